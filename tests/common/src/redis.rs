//! A private `redis-server` per test, on a free port.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::free_port;

/// A private `redis-server` on a free port; killed on drop or when the test
/// process ends.
pub struct RedisServer {
    pub port: u16,
    child: std::sync::Mutex<Option<std::process::Child>>,
}

impl RedisServer {
    pub fn start() -> Self {
        let server = Self {
            port: free_port(),
            child: std::sync::Mutex::new(None),
        };
        server.launch();
        server
    }

    fn launch(&self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}); install it with: apt-get install -y redis-server (or run scripts/test)"));
        let pid = child.id();
        let script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 1; done; kill -9 {pid} 2>/dev/null",
            std::process::id()
        );
        let _ = Command::new("sh").arg("-c").arg(script).spawn();
        *self.child.lock().unwrap() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server hard (SIGKILL), as a crash would.
    pub fn kill(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: it keeps nothing on disk).
    pub fn restart(&self) {
        self.launch();
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
