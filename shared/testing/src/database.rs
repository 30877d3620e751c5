use sea_orm::{ConnectionTrait, Database};

/// A freshly created, empty database, dropped when this value is dropped.
/// The service under test applies its own migrations to it at start-up, exactly as in
/// production.
pub struct TestDatabase {
    pub url: String,
    pub name: String,
    admin_url: String,
}

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "postgres://platform:platform@127.0.0.1:{}/postgres",
            platform_config::DEV_PG_PORT
        )
    })
}

impl TestDatabase {
    pub async fn create(prefix: &str) -> Self {
        let admin_url = admin_url();
        let name = format!("t_{prefix}_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("cannot reach the test PostgreSQL at {admin_url} (run `./dev test`): {e}")
        });
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test database");
        let _ = admin.close().await;
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("TEST_DATABASE_URL has a database name");
        Self {
            url: format!("{base}/{name}"),
            name,
            admin_url,
        }
    }

    /// `host:port` of the server, from the URL.
    fn authority(&self) -> &str {
        self.url
            .split('@')
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .expect("host:port in the URL")
    }

    /// The address of the server, for a [`TcpProxy`](crate::TcpProxy) in front of it.
    pub fn server_addr(&self) -> std::net::SocketAddr {
        std::net::ToSocketAddrs::to_socket_addrs(self.authority())
            .ok()
            .and_then(|mut a| a.next())
            .expect("a resolvable host:port")
    }

    /// This database's URL through a proxy listening on `port`.
    pub fn url_via(&self, port: u16) -> String {
        self.url.replace(self.authority(), &format!("127.0.0.1:{port}"))
    }

    /// Reads one number straight from the database (a test's invariant): the first column
    /// of the first row, which must exist and be a non-null bigint.
    /// This database on the streaming replica (the server of `TEST_DATABASE_REPLICA_URL`).
    pub fn replica_url(&self) -> String {
        let replica = crate::replica_admin_url();
        let authority = replica
            .split('@')
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .expect("host:port in TEST_DATABASE_REPLICA_URL")
            .to_string();
        self.url.replace(self.authority(), &authority)
    }

    /// A text the database answers (one row, one column).
    pub async fn text(&self, sql: &str) -> String {
        self.value(sql).await
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        self.value(sql).await
    }

    /// The one value `sql` answers (first row, first column).
    async fn value<T: sea_orm::TryGetable>(&self, sql: &str) -> T {
        let conn = Database::connect(&self.url)
            .await
            .expect("connect to the test database");
        let row = conn
            .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("{sql}: no row"));
        let value: T = row.try_get_by_index(0).unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        let _ = conn.close().await;
        value
    }

    /// Makes the database refuse connections and kills the existing ones: "the database
    /// is unreachable", as seen by the service, without touching other tests.
    pub async fn cut_off(&self) {
        self.admin(&format!(
            "ALTER DATABASE \"{0}\" WITH ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}';",
            self.name
        ))
        .await;
    }

    pub async fn restore(&self) {
        self.admin(&format!(
            "ALTER DATABASE \"{}\" WITH ALLOW_CONNECTIONS true",
            self.name
        ))
        .await;
    }

    async fn admin(&self, sql: &str) {
        let admin = Database::connect(&self.admin_url)
            .await
            .expect("connect as admin");
        admin.execute_unprepared(sql).await.expect("admin statement");
        let _ = admin.close().await;
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        crate::block_on_side(async move {
            if let Ok(admin) = Database::connect(&admin_url).await {
                if let Err(e) = admin.execute_unprepared(&sql).await {
                    eprintln!("test cleanup: {e}");
                }
                let _ = admin.close().await;
            }
        });
    }
}
