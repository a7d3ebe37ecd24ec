//! The `kurz` command: `serve` (the default), `migrate`, `import`,
//! `openapi`, `keys` and `healthcheck`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kurz::app::App;
use kurz::config::Settings;
use kurz::service::import;
use kurz::store::Store;
use kurz::telemetry::TelemetryGuard;
use kurz::{api, telemetry};

/// mimalloc: faster than glibc's allocator for many small, short-lived
/// allocations across threads, and it returns memory to the system sooner.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h: the option just before
/// `mi_option_use_numa_nodes`, which the bindings name (the test below
/// checks it by its default).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t =
    libmimalloc_sys::mi_option_use_numa_nodes - 1;

/// Returns freed memory to the system at once instead of after a second
/// (mimalloc v3's default): at saturation that is 12 MiB less peak RSS for
/// one replica at no loss of throughput. `MIMALLOC_PURGE_DELAY` in the
/// environment still wins.
fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's atomic options; any value is valid.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        refuse_transparent_huge_pages();
    }
}

/// mimalloc advises transparent huge pages for its 1 GiB arenas, so the
/// kernel backs each touched 64 KiB allocator page with 2 MiB: a SQLite
/// replica held 17 MiB more at saturation and 8 MiB more idle
/// (docs/performance.md, "Memory"). The first arena is reserved before
/// `main` runs, too early for mimalloc's own option, so this asks the
/// kernel instead: the flag covers the mappings the process already has.
#[cfg(target_os = "linux")]
fn refuse_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory.
    let refused = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if refused != 0 {
        eprintln!("kurz: could not turn off transparent huge pages; memory use may be higher");
    }
}

#[cfg(not(target_os = "linux"))]
fn refuse_transparent_huge_pages() {}

#[derive(Parser)]
#[command(name = "kurz", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve(Settings),
    /// Apply pending database migrations and exit.
    Migrate(Settings),
    /// Load the hackathon CSV files (idempotent; ids are kept).
    Import(ImportArgs),
    /// Rebuild the reports' roll-ups from the event log (repair; an import
    /// of events adds its own rows by itself).
    RebuildStats(Settings),
    /// Rewrite the event log's ended months in link order, so a link's
    /// events are read from a few pages (PostgreSQL; locks each month
    /// while it is rewritten: run it in a quiet hour).
    ClusterEvents(Settings),
    /// Print the OpenAPI document (as served at /openapi.json) and exit.
    Openapi,
    /// Create or revoke a user's API key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Exit 0 if the server on KURZ_BIND answers GET /health with 200 (for
    /// container HEALTHCHECKs: the image needs no curl).
    Healthcheck(Settings),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key for a user and print it (it is shown this once).
    Create {
        /// The user the key acts for.
        #[arg(long)]
        user: i64,
        #[command(flatten)]
        settings: Settings,
    },
    /// Revoke a key by its id (on every replica, through Redis when configured).
    Revoke {
        /// The key's id, as `GET /users/{id}/keys` lists it.
        id: i64,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(clap::Args)]
struct ImportArgs {
    /// users.csv: id,username,email,created_at
    #[arg(long)]
    users: Option<PathBuf>,
    /// urls.csv: id,user_id,short_code,original_url,title,is_active,created_at,updated_at
    #[arg(long)]
    urls: Option<PathBuf>,
    /// events.csv: id,url_id,user_id,event_type,timestamp,details
    #[arg(long)]
    events: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A server's memory should follow its load down; an import's would only
    // be handed back and faulted in again (a third of its CPU). Tuned before
    // the runtime's threads and their heaps exist.
    if matches!(cli.command, None | Some(Command::Serve(_))) {
        tune_allocator();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(error) => Err(anyhow::Error::new(error).context("could not start the async runtime")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error.cause_chain = ?error, error.message = %error, "kurz failed");
            eprintln!("kurz: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => serve(cli.settings).await,
        Some(Command::Serve(settings)) => serve(settings).await,
        Some(Command::Migrate(settings)) => migrate(settings).await,
        Some(Command::Import(args)) => import_files(args).await,
        Some(Command::RebuildStats(settings)) => rebuild_stats(settings).await,
        Some(Command::ClusterEvents(settings)) => cluster_events(settings).await,
        Some(Command::Openapi) => print_openapi(),
        Some(Command::Keys(command)) => keys(command).await,
        Some(Command::Healthcheck(settings)) => healthcheck(settings.bind),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let _telemetry = telemetry::init(&settings.parse()?.telemetry)?;
    let app = App::build(settings.clone()).await?;
    tracing::info!(address = %app.local_addr()?, settings = ?settings, "kurz listening");
    let stop = app.stop_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        stop.cancel();
    });
    app.run_until_stopped().await
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// `kurz keys …`: the same operations as the API, as the admin, with the
/// cache tiers of a replica so a revocation reaches the running ones.
async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    let settings = match &command {
        KeysCommand::Create { settings, .. } | KeysCommand::Revoke { settings, .. } => settings,
    };
    let config = settings.parse()?;
    let _telemetry = telemetry::init(&config.telemetry)?;
    let store = std::sync::Arc::new(Store::connect(&config.store.url, 2).await?);
    store.migrate().await?;
    let stop = tokio_util::sync::CancellationToken::new();
    let (links, _subscriber) =
        kurz::cache::Links::start(store.clone(), config.cache.clone(), stop.clone())?;
    let (recorder, events) =
        kurz::events::EventRecorder::start(store.clone(), config.events.clone());
    // Key management follows no redirect: its analytics are never used.
    let analytics = kurz::analytics::Analytics::new(config.server.salter.clone(), None);
    let service = kurz::service::Service::new(
        store.clone(),
        links,
        events,
        config.server.auth.clone(),
        analytics,
    );
    let id = |raw: i64, what: &str| {
        kurz::domain::Id::new(raw).with_context(|| format!("{what} must be a positive integer"))
    };
    let admin = kurz::domain::Caller::Admin;
    match command {
        KeysCommand::Create { user, .. } => {
            let created = service.create_key(admin, id(user, "--user")?).await?;
            println!("{}", created.token);
            eprintln!(
                "key {} ({}) for user {user}: store it now, it is not shown again",
                created.key.id, created.key.prefix
            );
        }
        KeysCommand::Revoke { id: key_id, .. } => {
            let key_id = id(key_id, "the key id")?;
            let owner = store.key_owner(key_id).await?;
            service.revoke_key(admin, owner, key_id).await?;
            println!("key {key_id} revoked");
        }
    }
    stop.cancel();
    drop(service);
    recorder.close(std::time::Duration::from_secs(5)).await;
    store.close().await;
    Ok(())
}

/// One plain HTTP/1.1 GET /health to the bound address (a wildcard bind is
/// reached on loopback), with a 2-second budget.
fn healthcheck(bind: std::net::SocketAddr) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let mut addr = bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let timeout = std::time::Duration::from_secs(2);
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream
        .read_exact(&mut head)
        .context("reading the status line")?;
    anyhow::ensure!(
        head.starts_with(b"HTTP/1.1 200"),
        "/health answered {:?}",
        String::from_utf8_lossy(&head)
    );
    Ok(())
}

fn print_openapi() -> anyhow::Result<()> {
    println!("{}", api::openapi_document().to_pretty_json()?);
    Ok(())
}

/// The store of a one-shot maintenance command, migrated, with logging up
/// for as long as the guard lives.
async fn maintenance_store(settings: &Settings) -> anyhow::Result<(Store, TelemetryGuard)> {
    let config = settings.parse()?;
    let telemetry = telemetry::init(&config.telemetry)?;
    let store = Store::connect(&config.store.url, 2).await?;
    store.migrate().await?;
    Ok((store, telemetry))
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let (store, _telemetry) = maintenance_store(&settings).await?;
    store.close().await;
    println!("migrations applied ({})", store.engine());
    Ok(())
}

async fn import_files(args: ImportArgs) -> anyhow::Result<()> {
    let config = args.settings.parse()?;
    let _telemetry = telemetry::init(&config.telemetry)?;
    if args.users.is_none() && args.urls.is_none() && args.events.is_none() {
        anyhow::bail!("name at least one of --users, --urls, --events");
    }
    let store = Store::connect(&config.store.url, 4).await?;
    store.migrate().await?;
    // Order matters: urls need their users, events come last.
    for (kind, path) in [
        ("users", &args.users),
        ("urls", &args.urls),
        ("events", &args.events),
    ] {
        let Some(path) = path else { continue };
        let bytes = tokio::fs::read(path)
            .await
            .with_context(|| format!("failed to read {}", path.display()))?;
        let report = match kind {
            "users" => import::import_users(&store, &bytes).await,
            "urls" => import::import_urls(&store, &bytes).await,
            _ => import::import_events(&store, bytes.into()).await,
        }
        .with_context(|| format!("failed to import {}", path.display()))?;
        println!("{kind}: {}", serde_json::to_string(&report)?);
    }
    store.close().await;
    Ok(())
}

async fn cluster_events(settings: Settings) -> anyhow::Result<()> {
    let (store, _telemetry) = maintenance_store(&settings).await?;
    let ordered = store.order_closed_months(kurz::domain::now_utc()).await?;
    if ordered.is_empty() {
        println!("no ended month left to put in link order");
    }
    for month in ordered {
        println!(
            "{}: in link order ({:.1} s)",
            month.partition, month.seconds
        );
    }
    store.close().await;
    Ok(())
}

async fn rebuild_stats(settings: Settings) -> anyhow::Result<()> {
    let (store, _telemetry) = maintenance_store(&settings).await?;
    let started = std::time::Instant::now();
    store.rebuild_rollups().await?;
    println!(
        "reports rebuilt from the event log in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    store.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_purge_delay_option_is_the_one_whose_default_is_one_second() {
        // SAFETY: reads an option.
        let delay = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 1000, "mimalloc's purge delay option moved");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_server_refuses_transparent_huge_pages() {
        super::refuse_transparent_huge_pages();
        // SAFETY: PR_GET_THP_DISABLE reads one flag of this process.
        let refused = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(refused, 1, "the kernel may still hand out huge pages");
    }
}
