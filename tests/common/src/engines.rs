//! The two engines every behavioural test runs on, and the macro that
//! runs a check once per engine.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Runs each listed check once per engine, as `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! for_each_engine {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check($crate::Engine::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check($crate::Engine::Postgres).await
                }
            )*
        }
    };
}
