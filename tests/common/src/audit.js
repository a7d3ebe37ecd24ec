// An accessibility audit of the page in the browser, returning what fails:
// the page names its language and title and fits a phone; every form
// field has a label, every link and button a name, every image a text;
// text meets WCAG AA contrast against what is really behind it (4.5:1,
// 3:1 for large text). Focusable elements are numbered for the keyboard
// walk that follows (see Browser::audit).
const problems = [];
const describe = (el) => el.outerHTML.slice(0, 90);
if (!document.documentElement.lang) problems.push("<html> has no lang");
if (!document.title.trim()) problems.push("the page has no title");
if (!document.querySelector('meta[name="viewport"]')) problems.push("no viewport meta");
if (!document.querySelector("h1")) problems.push("no h1");

const visible = (el) => {
  const style = getComputedStyle(el);
  return style.display !== "none" && style.visibility !== "hidden" && el.getClientRects().length > 0;
};

for (const field of document.querySelectorAll("input, select, textarea")) {
  if (field.type === "hidden") continue;
  const labelled = (field.id && document.querySelector(`label[for="${CSS.escape(field.id)}"]`))
    || field.closest("label") || field.getAttribute("aria-label") || field.getAttribute("aria-labelledby");
  if (!labelled) problems.push(`field without a label: ${describe(field)}`);
}
for (const control of document.querySelectorAll("a, button")) {
  const name = (control.textContent || control.getAttribute("aria-label") || control.title || "").trim();
  if (!name) problems.push(`control without a name: ${describe(control)}`);
}
for (const image of document.querySelectorAll("img, svg")) {
  if (image.closest('[aria-hidden="true"]')) continue;
  // Inside a named image (role="img"), the drawing is the image's own.
  if (image.parentElement?.closest('[role="img"][aria-label]')) continue;
  const text = image.getAttribute("alt") ?? image.getAttribute("aria-label")
    ?? image.querySelector(":scope > title")?.textContent;
  if (text == null || (image.tagName !== "IMG" && !text.trim())) problems.push(`image without a text: ${describe(image)}`);
}

const rgba = (css) => {
  const parts = (css.match(/[\d.]+/g) || ["0", "0", "0", "0"]).map(Number);
  return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
};
const luminance = (rgb) => {
  const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  return 0.2126 * channel(rgb[0]) + 0.7152 * channel(rgb[1]) + 0.0722 * channel(rgb[2]);
};
// What is painted behind `el`: its and its ancestors' backgrounds, blended
// over the white canvas.
const backdrop = (el) => {
  const layers = [];
  for (let at = el; at; at = at.parentElement) {
    const colour = rgba(getComputedStyle(at).backgroundColor);
    if (colour[3] > 0) layers.push(colour);
    if (colour[3] >= 1) break;
  }
  let base = [255, 255, 255];
  for (const colour of layers.reverse()) base = base.map((v, i) => colour[i] * colour[3] + v * (1 - colour[3]));
  return base;
};
for (const el of document.querySelectorAll("body *")) {
  const ownText = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  if (!ownText || !visible(el)) continue;
  const style = getComputedStyle(el);
  const back = backdrop(el);
  const ink = rgba(style.color);
  const fore = back.map((v, i) => ink[i] * ink[3] + v * (1 - ink[3]));
  const [light, dark] = [luminance(fore), luminance(back)].sort((a, b) => b - a);
  const ratio = (light + 0.05) / (dark + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (parseInt(style.fontWeight, 10) >= 700 && size >= 18.66);
  if (ratio < (large ? 3 : 4.5)) {
    problems.push(`contrast ${ratio.toFixed(2)}:1 of "${el.textContent.trim().slice(0, 40)}"`);
  }
}

const focusable = [...document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea")]
  .filter((el) => !el.disabled && el.tabIndex >= 0 && (visible(el) || el.classList.contains("skip")));
focusable.forEach((el, i) => { el.dataset.auditIndex = String(i); });
return { problems, focusable: focusable.length };
