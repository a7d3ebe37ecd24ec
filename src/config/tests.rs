//! Settings: clap and the in-code defaults agree, and bad values are all
//! named at once.

use super::*;
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
}

#[test]
fn clap_and_for_database_share_their_defaults() {
    let parsed = Cli::try_parse_from([
        "kurz",
        "--database-url",
        "sqlite:x.db",
        "--bind",
        "127.0.0.1:0",
    ])
    .unwrap()
    .settings;
    let built = Settings::for_database("sqlite:x.db");
    assert_eq!(format!("{parsed:?}"), format!("{built:?}"));
    assert_eq!(
        format!("{:?}", parsed.parse().unwrap()),
        format!("{:?}", built.parse().unwrap())
    );
}

#[test]
fn every_bad_value_is_named_at_once() {
    let mut settings = Settings::for_database("mysql://nope");
    settings.db_max_connections = 0;
    settings.cache_ttl_secs = 0;
    settings.redis_url = Some("http://redis".into());
    settings.log = "kurz=[".into();
    let problems = settings.parse().unwrap_err().0;
    for variable in [
        "DATABASE_URL",
        "KURZ_DB_MAX_CONNECTIONS",
        "KURZ_CACHE_TTL_SECS",
        "REDIS_URL",
        "KURZ_LOG",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(variable)),
            "{variable}: {problems:?}"
        );
    }
}
