//! QR codes: `GET /urls/{id}/qr` decodes back to the short link (zbarimg
//! from Debian's zbar-tools reads the PNG, and the SVG after rsvg-convert
//! draws it), bad parameters are a JSON 400, unknown links a 404.

use std::process::Command;

use kurz_testkit::for_each_engine;
use kurz_testkit::{assert_error, spawn_app, Engine};

/// What zbarimg reads in the image file, e.g. `QR-Code:http://…`.
fn decode(png: &std::path::Path) -> String {
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(png)
        .output()
        .expect("zbarimg (Debian package zbar-tools) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn qr_codes_decode_to_the_short_link_in_both_formats(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app
        .create_url(uid, "https://example.com/a/long/path?x=1")
        .await;
    let (id, code) = (
        url["id"].as_i64().unwrap(),
        url["short_code"].as_str().unwrap(),
    );
    let expected = app.url(&format!("/{code}"));
    let dir = tempfile::tempdir().unwrap();

    let png = app
        .client
        .get(app.url(&format!("/urls/{id}/qr?format=png&size=300")))
        .send()
        .await
        .unwrap();
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    let png_path = dir.path().join("code.png");
    std::fs::write(&png_path, png.bytes().await.unwrap()).unwrap();
    assert_eq!(decode(&png_path), expected);

    let svg = app.get(&format!("/urls/{id}/qr")).await;
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert!(svg.text.contains("width=\"256\""), "default size 256");
    let svg_path = dir.path().join("code.svg");
    std::fs::write(&svg_path, &svg.text).unwrap();
    let drawn = dir.path().join("svg.png");
    let status = Command::new("rsvg-convert")
        .arg("-o")
        .arg(&drawn)
        .arg(&svg_path)
        .status()
        .expect("rsvg-convert (Debian package librsvg2-bin) runs");
    assert!(status.success());
    assert_eq!(decode(&drawn), expected);

    for bad in [
        "format=gif",
        "size=10",
        "size=5000",
        "size=big",
        "format=PNG",
    ] {
        let reply = app.get(&format!("/urls/{id}/qr?{bad}")).await;
        assert_error(&reply, 400);
    }
    assert_error(&app.get("/urls/999999/qr").await, 404);
}

for_each_engine!(qr_codes_decode_to_the_short_link_in_both_formats);
