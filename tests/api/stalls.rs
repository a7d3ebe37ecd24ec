//! No stall on kept-alive connections. Without TCP_NODELAY on accepted
//! sockets, a response written in more than one segment can wait for the
//! client's delayed ACK (40 ms on Linux) on every request of a kept-alive
//! connection. Whether the stall shows depends on timing (a debug build
//! writes slowly enough to hide it; `loadtest/bench.py`'s `nostall`
//! workload measures it on the release build), so this test checks its
//! cause instead: every socket the server accepted has TCP_NODELAY set,
//! read with getsockopt(2) from inside this process.

use kurz_testkit::*;

/// TCP_NODELAY of every socket in this process whose local port is `port`
/// and which has a peer: the server side of accepted connections.
fn accepted_nodelay(port: u16) -> Vec<bool> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // SAFETY: getsockname/getpeername/getsockopt only write into the
        // buffers given, sized by the lengths given; a fd that is not a
        // socket (or was closed meanwhile) makes them fail, and is skipped.
        unsafe {
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let local =
                libc::getsockname(fd, (&mut addr as *mut libc::sockaddr_in).cast(), &mut len);
            if local != 0
                || i32::from(addr.sin_family) != libc::AF_INET
                || u16::from_be(addr.sin_port) != port
            {
                continue;
            }
            let mut peer: libc::sockaddr_in = std::mem::zeroed();
            let mut peer_len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            if libc::getpeername(
                fd,
                (&mut peer as *mut libc::sockaddr_in).cast(),
                &mut peer_len,
            ) != 0
            {
                continue; // the listener
            }
            let mut value: libc::c_int = 0;
            let mut value_len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            let got = libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&mut value as *mut libc::c_int).cast(),
                &mut value_len,
            );
            assert_eq!(got, 0, "getsockopt(TCP_NODELAY) on fd {fd}");
            found.push(value != 0);
        }
    }
    found
}

#[tokio::test]
async fn every_accepted_connection_sets_tcp_nodelay() {
    let app = spawn_app(Engine::Sqlite).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    for i in 0..20 {
        app.create_url(uid, &format!("https://example.com/{i}"))
            .await;
    }
    // Several kept-alive connections, each having served a list.
    let clients: Vec<reqwest::Client> = (0..3).map(|_| reqwest::Client::new()).collect();
    for client in &clients {
        let reply = client
            .get(app.url(&format!("/urls?user_id={uid}")))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        reply.bytes().await.unwrap();
    }
    let flags = accepted_nodelay(app.address.port());
    assert!(flags.len() >= 3, "found {} accepted sockets", flags.len());
    assert!(
        flags.iter().all(|on| *on),
        "an accepted socket without TCP_NODELAY: {flags:?}"
    );
}
