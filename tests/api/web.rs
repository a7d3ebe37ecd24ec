//! The web page in a real browser (headless Chromium over WebDriver):
//! sign up, shorten, follow the short link, read its report, edit and
//! delete it, at desktop and phone sizes, saving a screenshot of each page
//! (`KURZ_SCREENSHOTS`, default target/screenshots), and auditing each for
//! accessibility (labels, names, contrast, the keyboard). Then, over plain
//! HTTP: forms without their CSRF token are refused, the session cookie is
//! HttpOnly and SameSite=Strict, and with keys on the page asks for a key.

use std::time::Duration;

use reqwest::header;

use kurz_testkit::{spawn_app, spawn_app_with, test_settings, Browser, Engine};

/// Reloads `url` until the text at `css` is `want` (the report follows
/// the event writer by its linger).
async fn until_text(browser: &Browser, url: &str, css: &str, want: &str) -> bool {
    for _ in 0..30 {
        browser.goto(url).await;
        if browser.text(css).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// The page passes the accessibility audit (`Browser::audit`).
async fn assert_accessible(browser: &Browser, page: &str) {
    let problems = browser.audit().await;
    assert!(problems.is_empty(), "{page}: {problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_shortens_follows_reads_edits_and_deletes_a_link_in_a_browser() {
    let app = spawn_app(Engine::Sqlite).await;
    let browser = Browser::start().await;
    let home = app.url("/");
    browser.goto(&home).await;
    assert_eq!(browser.text("h1").await, "Sign in");
    browser.screenshot("sign-in").await;
    assert_accessible(&browser, "sign-in").await;
    browser.fill("#username", "ada").await;
    browser.fill("#email", "ada@example.com").await;
    browser.click("form[action='/web/users'] button").await;
    assert!(browser.shows("h1", "Shorten a link").await);

    // The target is this server's own stylesheet: the walk needs no network.
    let target = app.url("/static/kurz.css");
    browser.fill("#original_url", &target).await;
    browser.fill("#short_code", "ada-docs").await;
    browser.fill("#max_redirects", "50").await;
    browser.click("form[action='/web/links'] button").await;
    assert!(browser.shows(".notice", "Link created.").await);
    let link_page = browser.current_url().await;
    let link_page = link_page.split('?').next().unwrap().to_owned();
    assert!(link_page.contains("/l/"), "{link_page}");
    assert_eq!(browser.text("h1").await, app.url("/ada-docs"));

    browser.goto(&app.url("/ada-docs")).await;
    assert_eq!(
        browser.current_url().await,
        target,
        "the short link redirects"
    );
    assert!(
        until_text(&browser, &link_page, "#redirects", "1").await,
        "the redirect is counted"
    );
    assert!(browser.text("table.tally").await.contains("direct"));
    browser.screenshot("link").await;
    assert_accessible(&browser, "link").await;

    browser.goto(&home).await;
    let listed = browser.text("tbody tr").await;
    assert!(
        listed.contains("ada-docs") && listed.contains('1'),
        "{listed}"
    );
    browser.screenshot("home").await;
    assert_accessible(&browser, "home").await;
    browser.resize(390, 844).await;
    browser.screenshot("home-phone").await;
    assert_accessible(&browser, "home-phone").await;
    browser.resize(1200, 1000).await;

    browser.goto(&link_page).await;
    browser.fill("#title", "Our docs").await;
    browser.fill("#max_redirects", "1").await;
    browser.click("form.card button").await;
    assert!(browser.shows(".notice", "Saved.").await);
    let id = link_page.rsplit('/').next().unwrap();
    let url = app.get(&format!("/urls/{id}")).await;
    assert_eq!(
        (
            url.json["title"].as_str(),
            url.json["max_redirects"].as_i64()
        ),
        (Some("Our docs"), Some(1))
    );
    assert_eq!(
        app.get("/ada-docs").await.status,
        410,
        "the budget of one is spent"
    );

    browser.click("form.danger button").await;
    assert!(browser.shows(".notice", "Link deleted.").await);
    assert_eq!(browser.text("main p:not(.notice)").await, "No links yet.");
    assert_eq!(app.get(&format!("/urls/{id}")).await.status, 404);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_their_token_and_the_session_cookie_is_locked_down() {
    let app = spawn_app(Engine::Sqlite).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = no_redirects.get(app.url("/")).send().await.unwrap();
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("form-action 'self'"),
        "{csp}"
    );
    let csrf_cookie = page.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    let token = csrf_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"));

    let sign_in = |csrf: &str| {
        no_redirects
            .post(app.url("/web/session"))
            .header(header::COOKIE, format!("kurz_csrf={token}"))
            .form(&[("csrf", csrf.to_owned()), ("key", uid.to_string())])
    };
    let forged = sign_in("not-the-token").send().await.unwrap();
    assert_eq!(forged.status(), 400);
    assert!(forged.headers().get(header::SET_COOKIE).is_none());
    let signed = sign_in(&token).send().await.unwrap();
    assert_eq!(signed.status(), 303);
    let session = signed.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        session.starts_with(&format!("kurz_session={uid};")),
        "{session}"
    );
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );

    let without_token = no_redirects
        .post(app.url("/web/links"))
        .header(
            header::COOKIE,
            format!("kurz_csrf={token}; kurz_session={uid}"),
        )
        .form(&[("original_url", "https://example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(without_token.status(), 400);
    assert!(app
        .get(&format!("/urls?user_id={uid}"))
        .await
        .json
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_keys_on_the_page_asks_for_a_users_key_once() {
    let (mut settings, db) = test_settings(Engine::Sqlite).await;
    settings.auth = Some(kurz::config::AuthArg::Keys);
    settings.admin_key = Some("admin-key-of-the-web-test".into());
    let app = spawn_app_with(settings, db).await;
    let admin = app.with_key("admin-key-of-the-web-test");
    let user = admin
        .post(
            "/users",
            serde_json::json!({"username": "kim", "email": "kim@example.com"}),
        )
        .await;
    let uid = user.json["id"].as_i64().unwrap();
    let key = admin
        .post(&format!("/users/{uid}/keys"), serde_json::json!({}))
        .await;
    let token = key.json["key"].as_str().unwrap().to_owned();

    let browser = Browser::start().await;
    browser.goto(&app.url("/")).await;
    assert_eq!(browser.text("label[for=key]").await, "Your API key");
    assert_accessible(&browser, "key sign-in").await;
    browser.fill("#key", "admin-key-of-the-web-test").await;
    browser.click("form button").await;
    assert!(browser.shows("h1", "Something is not right").await);
    assert_accessible(&browser, "error").await;
    assert!(browser
        .text("main")
        .await
        .contains("not a user's working API key"));
    browser.goto(&app.url("/")).await;
    browser.fill("#key", &token).await;
    browser.click("form button").await;
    assert!(browser.shows("h1", "Shorten a link").await);
    browser.goto(&app.url("/")).await;
    assert_eq!(
        browser.text("h1").await,
        "Shorten a link",
        "the key is kept in the session"
    );
    browser.close().await;
}
