//! Throwaway PostgreSQL servers from the installed server binaries
//! (`initdb`, `pg_ctl`), in a temp dir on a free port; a watchdog stops one
//! when the test process ends, however it ends. The schema is migrated once
//! into `kurz_template` and each test gets `CREATE DATABASE … TEMPLATE`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tempfile::TempDir;

use crate::{free_port, random_suffix};

fn postgres_bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin. \
             Install them with: apt-get install -y postgresql (or run scripts/test)"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (initdb
/// and pg_ctl refuse to run as root).
fn pg_tool(bin: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
}

/// A private PostgreSQL server in a temp dir.
pub struct PgServer {
    pub port: u16,
    data: PathBuf,
    bin: PathBuf,
    _dir: TempDir,
}

impl PgServer {
    pub fn start() -> Self {
        let bin = postgres_bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("kurz-pg-")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join("data");
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "chown of the temp dir to postgres failed"
            );
        }
        let out = pg_tool(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let server = Self {
            port: free_port(),
            data,
            bin,
            _dir: dir,
        };
        server.run_ctl_start();
        server.watch_parent();
        server
    }

    fn run_ctl_start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log");
        let out = pg_tool(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server (fast mode: connections are cut).
    pub fn stop(&self) {
        let out = pg_tool(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn restart(&self) {
        self.run_ctl_start();
    }

    /// Stops this server when the test process is gone, whatever way it ends.
    fn watch_parent(&self) {
        let ctl = self.bin.join("pg_ctl");
        let runner = if is_root() {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runner}{ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {data}",
            pid = std::process::id(),
            ctl = ctl.display(),
            data = self.data.display(),
        );
        let _ = Command::new("sh").arg("-c").arg(script).spawn();
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database on this server and returns its URL.
    pub async fn create_database(&self, name: &str) -> String {
        let admin = sqlx::PgPool::connect(&self.url("postgres"))
            .await
            .expect("connect to the test server");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create the database");
        admin.close().await;
        self.url(name)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = pg_tool(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap_or(""),
                "-m",
                "immediate",
                "stop",
            ],
        );
    }
}

/// The server shared by every test in this process, with the template migrated.
fn shared_pg() -> &'static PgServer {
    static SHARED: OnceLock<PgServer> = OnceLock::new();
    SHARED.get_or_init(|| {
        let server = PgServer::start();
        let url = server.url("postgres");
        let template = server.url("kurz_template");
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let admin = kurz::store::Store::connect(&url, 1).await.unwrap();
                drop(admin);
                let pool = sqlx::PgPool::connect(&url)
                    .await
                    .expect("connect to the test server");
                sqlx::query("CREATE DATABASE kurz_template")
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                let store = kurz::store::Store::connect(&template, 1).await.unwrap();
                store.migrate().await.expect("migrate the template");
                store.close().await;
            })
        })
        .join()
        .expect("template setup panicked");
        server
    })
}

/// A fresh PostgreSQL database cloned from the template.
pub async fn fresh_pg_database() -> String {
    static CLONE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let server = shared_pg();
    let name = format!("t_{}", random_suffix());
    let _one_at_a_time = CLONE_LOCK.lock().await;
    let pool = sqlx::PgPool::connect(&server.url("postgres"))
        .await
        .expect("connect to the test server");
    sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE kurz_template"))
        .execute(&pool)
        .await
        .expect("clone the template");
    pool.close().await;
    server.url(&name)
}

/// A new, empty PostgreSQL database (no migrations), for upgrade tests.
pub async fn empty_pg_database() -> String {
    shared_pg()
        .create_database(&format!("e_{}", random_suffix()))
        .await
}
