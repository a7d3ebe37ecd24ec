//! The pages, as maud templates compiled into the binary: the layout,
//! sign-in, the home page (shorten a link, your links) and a link's page
//! (its QR code, chart, breakdowns, and the forms that change it).
//! Everything a form needs to submit is in the form; no JavaScript.

use chrono::NaiveDateTime;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::domain::{format_spaced_timestamp, format_timestamp, ShortUrl, Stats, Tally};

/// What a page needs besides its content.
pub struct Frame<'a> {
    pub title: &'a str,
    pub csrf: &'a str,
    pub signed_in: bool,
    /// A message after an action, or a problem with the last form.
    pub notice: Option<&'a str>,
}

pub fn layout(frame: &Frame<'_>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (frame.title) " · kurz" }
                link rel="stylesheet" href="/static/kurz.css";
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header {
                    a class="brand" href="/" { "kurz" }
                    @if frame.signed_in {
                        form method="post" action="/web/session/end" {
                            input type="hidden" name="csrf" value=(frame.csrf);
                            button type="submit" class="link" { "Sign out" }
                        }
                    }
                }
                main id="main" {
                    @if let Some(notice) = frame.notice {
                        p class="notice" role="status" { (notice) }
                    }
                    (content)
                }
            }
        }
    }
}

/// Sign in: an API key (keys on) or a user id, plus creating a user (off).
pub fn sign_in(csrf: &str, keys: bool) -> Markup {
    html! {
        h1 { "Sign in" }
        form method="post" action="/web/session" class="card" {
            input type="hidden" name="csrf" value=(csrf);
            @if keys {
                label for="key" { "Your API key" }
                input id="key" name="key" type="password" required autocomplete="off";
            } @else {
                label for="key" { "Your user id" }
                input id="key" name="key" type="number" min="1" required;
            }
            button type="submit" { "Sign in" }
        }
        @if !keys {
            h2 { "New here?" }
            form method="post" action="/web/users" class="card" {
                input type="hidden" name="csrf" value=(csrf);
                label for="username" { "Username" }
                input id="username" name="username" required maxlength="64";
                label for="email" { "Email" }
                input id="email" name="email" type="email" required;
                button type="submit" { "Create user and sign in" }
            }
        }
    }
}

fn when(at: Option<NaiveDateTime>) -> String {
    at.map_or_else(
        || "never".into(),
        |at| format!("{} UTC", format_spaced_timestamp(&at)),
    )
}

/// The home page: the shorten form and the user's links with their counts.
pub fn home(csrf: &str, public_url: &str, links: &[(ShortUrl, i64)]) -> Markup {
    html! {
        h1 { "Shorten a link" }
        form method="post" action="/web/links" class="card" {
            input type="hidden" name="csrf" value=(csrf);
            label for="original_url" { "Long URL" }
            input id="original_url" name="original_url" type="url" required placeholder="https://example.com/a/long/path";
            label for="short_code" { "Custom alias (optional)" }
            input id="short_code" name="short_code" pattern="[A-Za-z0-9_-]{3,32}" aria-describedby="alias-help";
            small id="alias-help" { "3 to 32 letters, digits, - or _." }
            label for="expires_at" { "Expires (UTC, optional)" }
            input id="expires_at" name="expires_at" type="datetime-local";
            label for="max_redirects" { "Stop after this many redirects (optional)" }
            input id="max_redirects" name="max_redirects" type="number" min="1";
            button type="submit" { "Shorten" }
        }
        h2 { "Your links" }
        @if links.is_empty() {
            p { "No links yet." }
        } @else {
            div class="scroll" {
                table {
                    thead { tr { th scope="col" { "Short link" } th scope="col" { "Target" } th scope="col" class="num" { "Redirects" } th scope="col" { "State" } } }
                    tbody {
                        @for (url, redirects) in links {
                            tr {
                                td { a href={ "/l/" (url.id.get()) } { (public_url) "/" (url.short_code) } }
                                td class="target" { (url.original_url) }
                                td class="num" { (redirects) }
                                td { @if url.is_active { "active" } @else { "inactive" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn tallies(caption: &str, rows: &[Tally]) -> Markup {
    html! {
        table class="tally" {
            caption { (caption) }
            thead { tr { th scope="col" { "Value" } th scope="col" class="num" { "Redirects" } } }
            tbody {
                @if rows.is_empty() { tr { td colspan="2" { "None yet" } } }
                @for row in rows { tr { td { (row.value) } td class="num" { (row.redirects) } } }
            }
        }
    }
}

/// A link's page: short link and QR code, the last 30 days, breakdowns,
/// then the edit, deactivate and delete forms.
pub fn link(
    csrf: &str,
    short: &str,
    url: &ShortUrl,
    stats: &Stats,
    qr_svg: &str,
    chart_svg: &str,
) -> Markup {
    let id = url.id.get();
    let expires = url
        .expires_at
        .map(|at| format_timestamp(&at).to_string()[..16].to_owned());
    html! {
        h1 { a href=(short) { (short) } }
        p class="target" { "→ " (url.original_url) }
        div class="grid" {
            figure class="qr" {
                div role="img" aria-label={ "QR code of " (short) } { (PreEscaped(qr_svg)) }
                figcaption { a href={ "/urls/" (id) "/qr?format=png&size=512" } download={ (url.short_code) ".png" } { "QR code" } }
            }
            dl class="totals" {
                dt { "Redirects" } dd id="redirects" { (stats.redirects) }
                dt { "Unique visitors" } dd { (stats.unique_visitors) }
                dt { "Bots and previews" } dd { (stats.bot_redirects) }
                dt { "First" } dd { (when(stats.first_redirect_at)) }
                dt { "Last" } dd { (when(stats.last_redirect_at)) }
            }
        }
        h2 { "Last 30 days" }
        (PreEscaped(chart_svg))
        div class="grid" {
            (tallies("Referrers", &stats.referrers))
            (tallies("Browsers", &stats.browsers))
            (tallies("Operating systems", &stats.operating_systems))
            (tallies("Devices", &stats.devices))
            @if !stats.countries.is_empty() {
                (tallies("Countries", &stats.countries))
            }
        }
        h2 { "Edit" }
        form method="post" action={ "/web/links/" (id) } class="card" {
            input type="hidden" name="csrf" value=(csrf);
            label for="original_url" { "Target" }
            input id="original_url" name="original_url" type="url" required value=(url.original_url);
            label for="title" { "Title" }
            input id="title" name="title" value=[url.title.as_deref()];
            label for="expires_at" { "Expires (UTC; empty: never)" }
            input id="expires_at" name="expires_at" type="datetime-local" value=[expires.as_deref()];
            label for="max_redirects" { "Stop after this many redirects (empty: no limit)" }
            input id="max_redirects" name="max_redirects" type="number" min="1" value=[url.max_redirects];
            label class="check" {
                input type="checkbox" name="is_active" value="true" checked[url.is_active];
                " Active (an inactive link answers 410)"
            }
            button type="submit" { "Save" }
        }
        form method="post" action={ "/web/links/" (id) "/delete" } class="danger" {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { "Delete this link" }
        }
    }
}

/// A short page for a problem that has no form to go back to.
pub fn problem(message: &str) -> Markup {
    html! {
        h1 { "Something is not right" }
        p { (message) }
        p { a href="/" { "Back to your links" } }
    }
}
