//! The platform's topology on the ops page: which PostgreSQL node is the primary, which
//! RabbitMQ nodes are up and how many quorum queues each one leads, which service instances
//! HAProxy sends traffic to.
//!
//! Three sources, each optional, read on every view of the page:
//! - HAProxy's stats CSV (`HAPROXY_STATS_URL`): every backend's servers as its readiness
//!   check (`GET /health/ready`) sees them, and for how long;
//! - Patroni's REST API (`PATRONI_URLS`): the members, their roles and lag, and whether
//!   replication is synchronous;
//! - RabbitMQ's management API (`RABBITMQ_MANAGEMENT_URL`, the vhost from `AMQP_URL`).
//!
//! Without the first two it is the single-node stack, and the page says so. A source that
//! does not answer is named on the page with the reason: it never fails the page.

use std::{collections::BTreeMap, fmt, time::Duration};

use futures_util::future::join_all;
use platform_config::ConfigError;
use reqwest::Url;
use serde::{Deserialize, de::DeserializeOwned};

/// How long each source gets. A killed VM or a partitioned node does not refuse the
/// connection, its packets just vanish: without a bound, one dead node would hold the ops page
/// (which reloads itself every 5 s) for the whole TCP connect timeout. The sources are read
/// at once, so the page waits for one timeout at most, however many nodes are dead.
pub const TIMEOUT: Duration = Duration::from_secs(1);

/// Where the topology comes from (lib.rs `Settings`); the default reads nothing.
#[derive(Debug, Clone)]
pub struct Config {
    /// HAProxy's stats page in CSV (`HAPROXY_STATS_URL`, e.g. `http://127.0.0.1:25700/stats;csv`).
    pub haproxy_stats: Option<Endpoint>,
    /// Patroni's REST API on each node (`PATRONI_URLS`, comma-separated).
    pub patroni: Vec<Endpoint>,
    /// RabbitMQ's management API (`RABBITMQ_MANAGEMENT_URL`, with its credentials).
    pub rabbitmq_management: Option<Endpoint>,
    /// The vhost whose queues are counted, encoded for the management API's paths: the path
    /// of `AMQP_URL` (`platform` when unset).
    pub vhost: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            haproxy_stats: None,
            patroni: Vec::new(),
            rabbitmq_management: None,
            vhost: "platform".into(),
        }
    }
}

impl Config {
    /// Unset variables are sources not configured; a set one that is not a URL stops the
    /// storefront at start-up (as `platform_config::parse` does), rather than showing an error
    /// on every view of the page.
    pub fn from_env() -> Result<Self, ConfigError> {
        let optional = |name: &str| match platform_config::string(name, "").trim() {
            "" => Ok(None),
            raw => Endpoint::parse(raw)
                .map(Some)
                .map_err(|reason| invalid(name, raw, reason)),
        };
        let patroni = platform_config::string("PATRONI_URLS", "");
        let amqp = platform_config::string("AMQP_URL", "");
        Ok(Self {
            haproxy_stats: optional("HAPROXY_STATS_URL")?,
            patroni: patroni
                .split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(|u| Endpoint::parse(u).map_err(|reason| invalid("PATRONI_URLS", u, reason)))
                .collect::<Result<_, _>>()?,
            rabbitmq_management: optional("RABBITMQ_MANAGEMENT_URL")?,
            vhost: vhost_of(&amqp).map_err(|reason| invalid("AMQP_URL", &amqp, reason))?,
        })
    }
}

fn invalid(name: &str, value: &str, reason: String) -> ConfigError {
    ConfigError::Invalid {
        name: name.into(),
        // The error is logged: a URL that may carry a password is not repeated.
        value: match value.contains('@') {
            true => "(not shown: it may carry a password)".into(),
            false => value.into(),
        },
        reason,
    }
}

/// The vhost in an AMQP URL's path, as the management API's paths want it: `/` (no path) is
/// `%2F`; an empty `AMQP_URL` is the platform's default vhost.
fn vhost_of(amqp_url: &str) -> Result<String, String> {
    if amqp_url.trim().is_empty() {
        return Ok("platform".into());
    }
    let url = Url::parse(amqp_url.trim()).map_err(|e| e.to_string())?;
    Ok(match url.path().trim_start_matches('/') {
        "" => "%2F".into(),
        vhost => vhost.into(),
    })
}

/// A URL to read from. Its credentials stay in `url`, the one requested: reqwest moves them
/// (percent-decoded) into the Authorization header. The page and the errors show `shown`,
/// the same URL without them, so the broker's password never reaches the page.
#[derive(Clone)]
pub struct Endpoint {
    url: Url,
    shown: Url,
}

impl Endpoint {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw.trim()).map_err(|e| e.to_string())?;
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            return Err("expected an http:// URL".into());
        }
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        Ok(Self { url, shown })
    }

    /// `path` under this URL taken as a base (`http://host:8008` + `cluster`).
    fn at(&self, path: &str) -> Result<Url, String> {
        let mut base = self.url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        base.join(path).map_err(|e| e.to_string())
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.shown.as_str())
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({})", self.shown)
    }
}

/// One source as the page shows it.
pub enum Reading<T> {
    /// Its variable (named here) is not set.
    NotConfigured(&'static str),
    /// It did not answer, or answered something that does not read: why, with its URL.
    Failed(String),
    Read(T),
}

/// Everything the ops page's topology panel shows.
pub struct Topology {
    /// Neither HAProxy nor Patroni configured: the single-node stack.
    pub single_node: bool,
    pub instances: Reading<Vec<Backend>>,
    pub postgres: Reading<Postgres>,
    pub broker: Reading<Broker>,
}

/// Reads the sources, each bounded by [`TIMEOUT`].
#[derive(Clone)]
pub struct Source {
    http: reqwest::Client,
    config: Config,
}

impl Source {
    pub fn new(config: Config) -> Self {
        Self {
            http: reqwest::Client::new(),
            config,
        }
    }

    /// All three sources at once.
    pub async fn read(&self) -> Topology {
        let (instances, postgres, broker) = tokio::join!(self.instances(), self.postgres(), self.broker());
        Topology {
            single_node: self.config.haproxy_stats.is_none() && self.config.patroni.is_empty(),
            instances,
            postgres,
            broker,
        }
    }

    async fn instances(&self) -> Reading<Vec<Backend>> {
        let Some(haproxy) = &self.config.haproxy_stats else {
            return Reading::NotConfigured("HAPROXY_STATS_URL");
        };
        match self
            .text(haproxy.url.clone())
            .await
            .and_then(|csv| parse_stats(&csv))
        {
            Ok(backends) => Reading::Read(backends),
            Err(why) => Reading::Failed(format!("{haproxy}: {why}")),
        }
    }

    async fn postgres(&self) -> Reading<Postgres> {
        if self.config.patroni.is_empty() {
            return Reading::NotConfigured("PATRONI_URLS");
        }
        // Every node is asked at once and the first in the configured order that answers is
        // used: asking them in turn would cost a whole timeout per dead node before it, and
        // during a failover drill the first one is often the node that was killed.
        let answers = join_all(self.config.patroni.iter().map(|node| async move {
            let (cluster, config) = tokio::join!(self.json(node, "cluster"), self.json(node, "config"));
            PatroniAnswer {
                node: node.to_string(),
                cluster,
                config,
            }
        }))
        .await;
        postgres_view(answers)
    }

    async fn broker(&self) -> Reading<Broker> {
        let Some(management) = &self.config.rabbitmq_management else {
            return Reading::NotConfigured("RABBITMQ_MANAGEMENT_URL");
        };
        // Only the columns read here: the full listing carries every queue's statistics.
        let queues = format!(
            "api/queues/{}?columns=type,node,leader,members,online",
            self.config.vhost
        );
        let (nodes, queues) = tokio::join!(
            self.json::<Vec<RabbitNode>>(management, "api/nodes"),
            self.json::<Vec<RabbitQueue>>(management, &queues),
        );
        match nodes {
            Ok(nodes) => Reading::Read(broker_view(
                nodes,
                queues.map_err(|why| format!("{management}: {why}")),
            )),
            Err(why) => Reading::Failed(format!("{management}: {why}")),
        }
    }

    /// A successful answer's body, within [`TIMEOUT`].
    async fn text(&self, url: Url) -> Result<String, String> {
        let request = self.http.get(url);
        let call = async {
            let res = request.send().await.map_err(|e| root_cause(&e))?;
            let status = res.status();
            if !status.is_success() {
                return Err(format!("answered {status}"));
            }
            res.text().await.map_err(|e| root_cause(&e))
        };
        tokio::time::timeout(TIMEOUT, call)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", TIMEOUT.as_secs_f32())))
    }

    /// `path` under `endpoint`, read as `T` (naming the field that does not fit).
    async fn json<T: DeserializeOwned>(&self, endpoint: &Endpoint, path: &str) -> Result<T, String> {
        let text = self.text(endpoint.at(path)?).await?;
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
            .map_err(|e| format!("{path}: the answer does not read: {e}"))
    }
}

/// The innermost error: "Connection refused (os error 111)" rather than reqwest's "error
/// sending request for url".
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

// ---------------------------------------------------------------------------------------
// HAProxy

/// A server as HAProxy's health checks see it. HAProxy says `UP 1/3` for a server that
/// failed a check but not yet enough to be taken out (still in rotation), and `DOWN 1/2` for
/// one that passed a check but not yet enough to be put back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    Failing,
    Down,
    Recovering,
    Draining,
    Maintenance,
    Unchecked,
    Unknown,
}

impl Readiness {
    fn of(status: &str) -> Self {
        let mut words = status.split_whitespace();
        match (words.next(), words.next()) {
            (Some("UP"), None) => Self::Ready,
            (Some("UP"), Some(_)) => Self::Failing,
            (Some("DOWN"), None) => Self::Down,
            (Some("DOWN"), Some(_)) => Self::Recovering,
            (Some("DRAIN" | "NOLB"), _) => Self::Draining,
            (Some("MAINT"), _) => Self::Maintenance,
            (Some("no"), Some("check")) => Self::Unchecked,
            _ => Self::Unknown,
        }
    }

    /// HAProxy sends it requests (a server without a check always gets them).
    pub fn ready(self) -> bool {
        matches!(self, Self::Ready | Self::Failing | Self::Unchecked)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Failing => "ready, failing its check",
            Self::Down => "not ready",
            Self::Recovering => "not ready, passing its check again",
            Self::Draining => "draining",
            Self::Maintenance => "in maintenance",
            Self::Unchecked => "in rotation, not checked",
            Self::Unknown => "unknown",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Self::Ready => "ok",
            Self::Down | Self::Maintenance => "bad",
            _ => "pending",
        }
    }
}

/// One server of a backend (a row of the stats CSV).
#[derive(Debug)]
pub struct Server {
    pub name: String,
    /// HAProxy's own words: `UP`, `DOWN 1/2`, `MAINT`...
    pub status: String,
    pub readiness: Readiness,
    /// The last check's outcome: `L7OK`, `L4CON`, `L7STS`...
    pub check: String,
    /// Seconds since its status last changed (`lastchg`).
    pub unchanged_secs: Option<u64>,
    pub backup: bool,
}

impl Server {
    /// How long it has been in this state.
    pub fn since(&self) -> String {
        self.unchanged_secs.map_or_else(|| "-".into(), duration)
    }
}

/// A backend (`order`, `postgres-primary`, `rabbitmq-amqp`...) and its servers, in HAProxy's order.
#[derive(Debug)]
pub struct Backend {
    pub name: String,
    pub servers: Vec<Server>,
}

impl Backend {
    pub fn ready(&self) -> usize {
        self.servers.iter().filter(|s| s.readiness.ready()).count()
    }
}

/// The servers in HAProxy's stats CSV, by backend in HAProxy's order. The columns are found
/// by their names in the header (`# pxname,svname,...`), not by position: HAProxy adds
/// columns from one version to the next, and a moved or added one must not shift what is read.
fn parse_stats(csv: &str) -> Result<Vec<Backend>, String> {
    let mut lines = csv.lines();
    let header = lines
        .next()
        .and_then(|l| l.strip_prefix('#'))
        .ok_or("not HAProxy's stats CSV (no '# pxname,svname,...' header)")?;
    let names = split_csv(header);
    let column = |name: &str| names.iter().position(|n| n.trim() == name);
    let required = |name: &str| column(name).ok_or(format!("no {name} column in HAProxy's stats CSV"));
    let (pxname, svname, status) = (required("pxname")?, required("svname")?, required("status")?);
    let (check, lastchg, bck) = (column("check_status"), column("lastchg"), column("bck"));
    let mut backends: Vec<Backend> = Vec::new();
    for row in lines.filter(|l| !l.trim().is_empty()).map(split_csv) {
        let field = |i: Option<usize>| i.and_then(|i| row.get(i)).map_or("", |f| f.trim()).to_string();
        let (backend, name) = (field(Some(pxname)), field(Some(svname)));
        // FRONTEND and BACKEND rows are the proxies' totals, not servers.
        if name == "FRONTEND" || name == "BACKEND" {
            continue;
        }
        let status = field(Some(status));
        let server = Server {
            name,
            readiness: Readiness::of(&status),
            status,
            check: field(check),
            unchanged_secs: field(lastchg).parse().ok(),
            backup: field(bck) == "1",
        };
        match backends.iter_mut().find(|b| b.name == backend) {
            Some(b) => b.servers.push(server),
            None => backends.push(Backend {
                name: backend,
                servers: vec![server],
            }),
        }
    }
    Ok(backends)
}

/// One CSV line; HAProxy quotes a field that contains a comma (a check's description).
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

// ---------------------------------------------------------------------------------------
// Patroni

/// `GET /cluster`. A member may lack any field (a stopped one has no timeline, the leader
/// no lag): every one has a default.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Cluster {
    members: Vec<Member>,
    scope: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Member {
    name: String,
    /// `leader`, `replica`, `sync_standby`, `standby_leader` (and `quorum_standby` in Patroni 4).
    role: String,
    /// `running`, `streaming`, `stopped`, `starting`, `crashed`...
    state: String,
    host: Option<String>,
    port: Option<u16>,
    timeline: Option<u64>,
    lag: Option<Lag>,
}

/// Replication lag in bytes, or a word when Patroni cannot tell (`"unknown"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Lag {
    Bytes(u64),
    Word(String),
}

/// `GET /config`: the dynamic configuration, of which only this is shown.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PatroniConfig {
    synchronous_mode: bool,
}

struct PatroniAnswer {
    node: String,
    cluster: Result<Cluster, String>,
    config: Result<PatroniConfig, String>,
}

/// The cluster as Patroni reports it.
pub struct Postgres {
    pub scope: String,
    /// The Patroni node whose answer is shown.
    pub answered_by: String,
    /// `synchronous_mode`; `None` when no node's configuration read.
    pub synchronous: Option<bool>,
    pub members: Vec<PgNode>,
    /// The Patroni nodes that did not answer, with why.
    pub unanswered: Vec<String>,
}

impl Postgres {
    /// The member that takes the writes.
    pub fn primary(&self) -> Option<&PgNode> {
        self.members.iter().find(|m| m.role == "leader")
    }

    pub fn replication(&self) -> &'static str {
        match self.synchronous {
            Some(true) => "synchronous (a commit waits for the synchronous standby: a failover loses none)",
            Some(false) => "asynchronous (a failover can lose the last commits)",
            None => "unknown (Patroni's configuration did not read)",
        }
    }
}

/// A member, ready for the page.
pub struct PgNode {
    pub name: String,
    pub role: String,
    pub state: String,
    pub lag: String,
    pub timeline: String,
    pub address: String,
}

impl PgNode {
    pub fn role_class(&self) -> &'static str {
        match self.role.as_str() {
            "leader" | "standby_leader" => "ok",
            _ => "",
        }
    }

    pub fn state_class(&self) -> &'static str {
        match self.state.as_str() {
            "running" | "streaming" => "ok",
            _ => "bad",
        }
    }
}

/// The first node's answer (in the configured order) that read, and who did not answer.
fn postgres_view(answers: Vec<PatroniAnswer>) -> Reading<Postgres> {
    let unanswered: Vec<String> = answers
        .iter()
        .filter_map(|a| a.cluster.as_ref().err().map(|why| format!("{}: {why}", a.node)))
        .collect();
    // The configuration is the same on every node (it lives in the DCS): any that read will do.
    let synchronous = answers
        .iter()
        .find_map(|a| a.config.as_ref().ok())
        .map(|c| c.synchronous_mode);
    let Some((node, cluster)) = answers
        .into_iter()
        .find_map(|a| a.cluster.ok().map(|c| (a.node, c)))
    else {
        return Reading::Failed(format!("no Patroni node answered: {}", unanswered.join("; ")));
    };
    let members = cluster
        .members
        .into_iter()
        .map(|m| PgNode {
            lag: match (&m.lag, m.role.as_str()) {
                (_, "leader") | (None, _) => "-".into(),
                (Some(Lag::Bytes(b)), _) => bytes(*b),
                (Some(Lag::Word(w)), _) => w.clone(),
            },
            timeline: m.timeline.map_or_else(|| "-".into(), |t| t.to_string()),
            address: match (m.host, m.port) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h,
                _ => "-".into(),
            },
            name: if m.name.is_empty() {
                "(unnamed)".into()
            } else {
                m.name
            },
            role: if m.role.is_empty() { "-".into() } else { m.role },
            state: if m.state.is_empty() { "-".into() } else { m.state },
        })
        .collect();
    Reading::Read(Postgres {
        scope: cluster.scope.unwrap_or_default(),
        answered_by: node,
        synchronous,
        members,
        unanswered,
    })
}

// ---------------------------------------------------------------------------------------
// RabbitMQ

/// An item of `GET /api/nodes`. A stopped node is listed too, `running: false`, no uptime.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RabbitNode {
    name: String,
    running: bool,
    /// The nodes this one cannot see (a network partition).
    partitions: Vec<String>,
    /// Milliseconds.
    uptime: Option<u64>,
}

/// An item of `GET /api/queues/<vhost>`: a quorum queue names its `leader` and Raft
/// `members` (and which of them are `online`); a classic queue lives on one `node`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RabbitQueue {
    #[serde(rename = "type")]
    kind: Option<String>,
    node: Option<String>,
    leader: Option<String>,
    members: Option<Vec<String>>,
    online: Option<Vec<String>>,
}

/// The broker's nodes and its queues' placement.
pub struct Broker {
    pub nodes: Vec<BrokerNode>,
    pub quorum: usize,
    pub classic: usize,
    /// Quorum queues without a leader: they refuse messages until one is elected.
    pub leaderless: usize,
    /// Quorum queues with a member offline: one more node down and they may lose their majority.
    pub degraded: usize,
    /// Why the queues could not be read (the nodes could).
    pub queues_problem: Option<String>,
}

impl Broker {
    pub fn running(&self) -> usize {
        self.nodes.iter().filter(|n| n.running).count()
    }
}

pub struct BrokerNode {
    pub name: String,
    pub running: bool,
    pub uptime: String,
    pub partitions: String,
    /// Quorum queues it leads: killing this node moves their leadership (the failover drill
    /// kills the one that leads the most).
    pub leads: usize,
    /// Classic queues it holds: they are gone while it is.
    pub holds: usize,
}

fn broker_view(nodes: Vec<RabbitNode>, queues: Result<Vec<RabbitQueue>, String>) -> Broker {
    let mut leads: BTreeMap<String, usize> = BTreeMap::new();
    let mut holds: BTreeMap<String, usize> = BTreeMap::new();
    let (mut quorum, mut classic, mut leaderless, mut degraded) = (0, 0, 0, 0);
    let queues_problem = match queues {
        Ok(queues) => {
            for q in queues {
                match q.kind.as_deref() {
                    Some("quorum") => {
                        quorum += 1;
                        match q.leader.or(q.node).filter(|l| !l.is_empty()) {
                            Some(leader) => *leads.entry(leader).or_default() += 1,
                            None => leaderless += 1,
                        }
                        let members = q.members.unwrap_or_default().len();
                        if q.online.unwrap_or_default().len() < members {
                            degraded += 1;
                        }
                    }
                    _ => {
                        classic += 1;
                        if let Some(node) = q.node {
                            *holds.entry(node).or_default() += 1;
                        }
                    }
                }
            }
            None
        }
        Err(why) => Some(why),
    };
    Broker {
        nodes: nodes
            .into_iter()
            .map(|n| BrokerNode {
                leads: leads.get(&n.name).copied().unwrap_or(0),
                holds: holds.get(&n.name).copied().unwrap_or(0),
                uptime: match (n.running, n.uptime) {
                    (true, Some(ms)) => duration(ms / 1000),
                    _ => "-".into(),
                },
                partitions: match n.partitions.is_empty() {
                    true => "none".into(),
                    false => n.partitions.join(", "),
                },
                running: n.running,
                name: n.name,
            })
            .collect(),
        quorum,
        classic,
        leaderless,
        degraded,
        queues_problem,
    }
}

// ---------------------------------------------------------------------------------------

/// 42 s, 3 min 5 s, 2 h 10 min, 4 d 1 h.
fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// 0 B, 512 B, 16.0 KiB, 3.2 MiB.
fn bytes(n: u64) -> String {
    match n {
        n if n < 1024 => format!("{n} B"),
        n if n < 1024 * 1024 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use askama::Template;

    use super::*;

    /// HAProxy 2.8's header (trimmed after `check_status`'s neighbours), and the rows of
    /// the HA stack with order-b down, payment-b failing one check, and the aggregates.
    const STATS: &str = "\
# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,last_chk,
stats,FRONTEND,,,1,2,2000,40,5000,90000,0,0,0,,,,,OPEN,,,,,,,,,1,1,0,,,,0,1,0,2,,,,0,,
order,order-a,0,0,0,3,,120,1000,2000,,0,,0,0,0,0,UP,1,1,0,0,0,3725,0,,1,3,1,,120,,2,0,,4,L7OK,200,2,0,\"HTTP status check returned code <200>\",
order,order-b,0,0,0,3,,98,900,1800,,0,,3,0,0,0,DOWN,1,1,0,4,1,12,12,,1,3,2,,98,,2,0,,4,L4CON,,0,0,\"Connection refused, at initial connection step\",
order,BACKEND,0,0,0,3,200,218,1900,3800,0,0,,3,0,0,0,UP,1,1,0,,0,3725,0,,1,3,0,,218,,1,0,,4,,,,0,,
payment,payment-a,0,0,0,1,,10,100,200,,0,,0,0,0,0,UP,1,1,0,0,0,600,0,,1,4,1,,10,,2,0,,1,L7OK,200,1,0,,
payment,payment-b,0,0,0,1,,10,100,200,,0,,0,0,0,0,UP 1/3,1,1,0,1,0,600,0,,1,4,2,,10,,2,0,,1,L7STS,503,1,0,,
postgres-primary,pg1,0,0,2,8,,44,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,86500,0,,1,5,1,,44,,2,0,,3,L7OK,200,3,0,,
postgres-primary,pg2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,0,0,86500,0,,1,5,2,,0,,2,0,,0,L7STS,503,2,0,,
rabbitmq-amqp,rabbit3,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,0,1,0,0,40,0,,1,6,3,,0,,2,0,,0,,,,0,,
rabbitmq-amqp,rabbit1,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1,1,0,0,0,,0,,1,6,1,,0,,2,0,,0,,,,0,,
";

    #[test]
    fn haproxy_servers_are_grouped_by_backend_without_the_aggregates() {
        let backends = parse_stats(STATS).unwrap();
        let names: Vec<&str> = backends.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["order", "payment", "postgres-primary", "rabbitmq-amqp"]);
        let order = &backends[0];
        assert_eq!(order.servers.len(), 2, "no FRONTEND/BACKEND rows");
        assert_eq!(order.ready(), 1);
        let (a, b) = (&order.servers[0], &order.servers[1]);
        assert_eq!(
            (a.name.as_str(), a.readiness, a.check.as_str()),
            ("order-a", Readiness::Ready, "L7OK")
        );
        assert_eq!(a.since(), "1 h 2 min");
        // The quoted description with a comma in it did not shift the columns after it.
        assert_eq!(
            (b.name.as_str(), b.readiness, b.check.as_str()),
            ("order-b", Readiness::Down, "L4CON")
        );
        assert_eq!(b.since(), "12 s");
        assert!(!b.readiness.ready());
        let failing = &backends[1].servers[1];
        assert_eq!(
            (failing.status.as_str(), failing.readiness),
            ("UP 1/3", Readiness::Failing)
        );
        assert!(failing.readiness.ready(), "still in rotation");
        let pg = &backends[2];
        assert_eq!(pg.servers[0].since(), "1 d 0 h");
        assert_eq!(
            (pg.servers[1].name.as_str(), pg.servers[1].readiness),
            ("pg2", Readiness::Down)
        );
        let rabbit = &backends[3].servers;
        assert_eq!(
            (rabbit[0].readiness, rabbit[0].backup),
            (Readiness::Maintenance, true)
        );
        assert_eq!(
            (rabbit[1].readiness, rabbit[1].since()),
            (Readiness::Unchecked, "-".into())
        );
        assert_eq!(backends[3].ready(), 1, "an unchecked server still gets requests");
    }

    #[test]
    fn haproxy_columns_are_read_by_name_not_position() {
        let csv = "# svname,status,lastchg,pxname,check_status\n\
                   inventory-a,DOWN 1/2,7,inventory,L7OK\n\
                   inventory-b,UP,100,inventory\n";
        let backends = parse_stats(csv).unwrap();
        assert_eq!(backends.len(), 1);
        let servers = &backends[0].servers;
        assert_eq!(backends[0].name, "inventory");
        assert_eq!(
            (servers[0].readiness, servers[0].since()),
            (Readiness::Recovering, "7 s".into())
        );
        // A short row (no check_status) reads as empty, not as a failure.
        assert_eq!(
            (servers[1].readiness, servers[1].check.as_str()),
            (Readiness::Ready, "")
        );
    }

    #[test]
    fn something_that_is_not_the_stats_csv_is_an_error() {
        assert!(parse_stats("<html>login</html>").unwrap_err().contains("header"));
        assert!(
            parse_stats("# pxname,svname\norder,order-a\n")
                .unwrap_err()
                .contains("status")
        );
    }

    const CLUSTER: &str = r#"{"members":[
        {"name":"pg1","role":"leader","state":"running","api_url":"http://127.0.0.1:25451/patroni","host":"127.0.0.1","port":25441,"timeline":3},
        {"name":"pg2","role":"sync_standby","state":"streaming","api_url":"http://127.0.0.1:25452/patroni","host":"127.0.0.1","port":25442,"timeline":3,"lag":0},
        {"name":"pg3","role":"replica","state":"stopped","lag":"unknown"}
    ],"scope":"platform-ha"}"#;

    fn answer(node: &str, cluster: Result<&str, &str>, config: Result<&str, &str>) -> PatroniAnswer {
        PatroniAnswer {
            node: node.into(),
            cluster: cluster
                .map(|c| serde_json::from_str(c).unwrap())
                .map_err(String::from),
            config: config
                .map(|c| serde_json::from_str(c).unwrap())
                .map_err(String::from),
        }
    }

    #[test]
    fn patroni_shows_the_primary_and_the_members_of_the_first_node_that_answers() {
        let answers = vec![
            answer(
                "http://127.0.0.1:25451/",
                Err("Connection refused"),
                Err("Connection refused"),
            ),
            answer(
                "http://127.0.0.1:25452/",
                Ok(CLUSTER),
                Ok(r#"{"synchronous_mode":true,"ttl":30}"#),
            ),
        ];
        let Reading::Read(pg) = postgres_view(answers) else {
            panic!("read")
        };
        assert_eq!(
            (pg.scope.as_str(), pg.answered_by.as_str()),
            ("platform-ha", "http://127.0.0.1:25452/")
        );
        assert_eq!(pg.primary().map(|p| p.name.as_str()), Some("pg1"));
        assert_eq!(pg.synchronous, Some(true));
        assert!(pg.replication().starts_with("synchronous"));
        assert_eq!(pg.unanswered, ["http://127.0.0.1:25451/: Connection refused"]);
        let rows: Vec<_> = pg
            .members
            .iter()
            .map(|m| {
                (
                    m.name.as_str(),
                    m.state_class(),
                    m.lag.as_str(),
                    m.timeline.as_str(),
                    m.address.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("pg1", "ok", "-", "3", "127.0.0.1:25441"),
                ("pg2", "ok", "0 B", "3", "127.0.0.1:25442"),
                // Stopped, no host, port or timeline: dashes, not a failed page.
                ("pg3", "bad", "unknown", "-", "-"),
            ]
        );
    }

    #[test]
    fn patroni_without_a_leader_or_a_config_says_so() {
        let cluster = r#"{"members":[{"name":"pg2","role":"replica","state":"running","lag":16384}]}"#;
        let Reading::Read(pg) = postgres_view(vec![answer("n", Ok(cluster), Err("answered 503"))]) else {
            panic!("read")
        };
        assert!(pg.primary().is_none());
        assert_eq!(pg.members[0].lag, "16.0 KiB");
        assert!(pg.replication().starts_with("unknown"));
        let Reading::Failed(why) = postgres_view(vec![
            answer("a", Err("no answer within 1 s"), Err("x")),
            answer("b", Err("refused"), Err("x")),
        ]) else {
            panic!("failed")
        };
        assert_eq!(
            why,
            "no Patroni node answered: a: no answer within 1 s; b: refused"
        );
    }

    const NODES: &str = r#"[
        {"name":"platform-ha1@localhost","type":"disc","running":true,"partitions":[],"uptime":5400000,"mem_used":90000000},
        {"name":"platform-ha2@localhost","type":"disc","running":true,"partitions":["platform-ha3@localhost"],"uptime":42000},
        {"name":"platform-ha3@localhost","type":"disc","running":false}
    ]"#;
    const QUEUES: &str = r#"[
        {"name":"inventory.order-events","type":"quorum","leader":"platform-ha1@localhost","members":["platform-ha1@localhost","platform-ha2@localhost","platform-ha3@localhost"],"online":["platform-ha1@localhost","platform-ha2@localhost"],"node":"platform-ha1@localhost"},
        {"name":"payment.order-events","type":"quorum","leader":"platform-ha1@localhost","members":["platform-ha1@localhost","platform-ha2@localhost","platform-ha3@localhost"],"online":["platform-ha1@localhost","platform-ha2@localhost","platform-ha3@localhost"]},
        {"name":"email.order-events","type":"quorum","leader":"platform-ha2@localhost","members":["platform-ha1@localhost","platform-ha2@localhost"],"online":["platform-ha1@localhost","platform-ha2@localhost"]},
        {"name":"analytics.order-events","type":"quorum","members":["platform-ha1@localhost","platform-ha2@localhost","platform-ha3@localhost"],"online":["platform-ha3@localhost"]},
        {"name":"amq.gen-x","type":"classic","node":"platform-ha2@localhost"},
        {"name":"old"}
    ]"#;

    #[test]
    fn rabbitmq_nodes_show_up_or_down_and_the_queues_they_lead() {
        let nodes: Vec<RabbitNode> = serde_json::from_str(NODES).unwrap();
        let queues: Vec<RabbitQueue> = serde_json::from_str(QUEUES).unwrap();
        let broker = broker_view(nodes, Ok(queues));
        assert_eq!(broker.running(), 2);
        let rows: Vec<_> = broker
            .nodes
            .iter()
            .map(|n| {
                (
                    n.name.as_str(),
                    n.running,
                    n.uptime.as_str(),
                    n.leads,
                    n.holds,
                    n.partitions.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("platform-ha1@localhost", true, "1 h 30 min", 2, 0, "none"),
                (
                    "platform-ha2@localhost",
                    true,
                    "42 s",
                    1,
                    1,
                    "platform-ha3@localhost"
                ),
                ("platform-ha3@localhost", false, "-", 0, 0, "none"),
            ]
        );
        assert_eq!(
            (broker.quorum, broker.classic, broker.leaderless, broker.degraded),
            (4, 2, 1, 2)
        );
        assert!(broker.queues_problem.is_none());
    }

    #[test]
    fn rabbitmq_nodes_show_when_the_queues_do_not_read() {
        let nodes: Vec<RabbitNode> = serde_json::from_str(NODES).unwrap();
        let broker = broker_view(nodes, Err("answered 401 Unauthorized".into()));
        assert_eq!(broker.nodes.len(), 3);
        assert_eq!(
            broker.queues_problem.as_deref(),
            Some("answered 401 Unauthorized")
        );
    }

    #[test]
    fn urls_are_shown_without_credentials_and_the_vhost_comes_from_amqp_url() {
        let e = Endpoint::parse("http://platform:p%40ss@127.0.0.1:25673").unwrap();
        assert_eq!(e.to_string(), "http://127.0.0.1:25673/");
        assert!(!format!("{e:?}").contains("p%40ss"));
        // The credentials go in the Authorization header, decoded (reqwest does it), not
        // in the request line.
        let url = e.at("api/queues/%2F?columns=name").unwrap();
        let request = reqwest::Client::new().get(url).build().unwrap();
        assert_eq!(
            request.url().as_str(),
            "http://127.0.0.1:25673/api/queues/%2F?columns=name"
        );
        assert_eq!(
            request.headers()["authorization"],
            "Basic cGxhdGZvcm06cEBzcw==",
            "platform:p@ss"
        );
        let stats = Endpoint::parse("http://127.0.0.1:25700/stats;csv").unwrap();
        assert_eq!(stats.url.as_str(), "http://127.0.0.1:25700/stats;csv");
        let patroni = Endpoint::parse("http://127.0.0.1:25451/patroni").unwrap();
        assert_eq!(
            patroni.at("cluster").unwrap().as_str(),
            "http://127.0.0.1:25451/patroni/cluster"
        );
        assert!(Endpoint::parse("127.0.0.1:25451").is_err());
        assert_eq!(vhost_of("").unwrap(), "platform");
        assert_eq!(
            vhost_of("amqp://platform:platform@127.0.0.1:25672/platform").unwrap(),
            "platform"
        );
        assert_eq!(vhost_of("amqp://guest:guest@127.0.0.1:5672").unwrap(), "%2F");
    }

    /// A port nothing listens on (refused), and one that accepts and never answers (a hung
    /// node): both are named on the page within the timeout.
    #[tokio::test]
    async fn unreachable_sources_are_named_within_the_timeout() {
        let refused = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let hung_url = format!("http://{}", hung.local_addr().unwrap());
        let config = Config {
            haproxy_stats: Some(Endpoint::parse(&format!("{hung_url}/stats;csv")).unwrap()),
            patroni: vec![
                Endpoint::parse(&refused).unwrap(),
                Endpoint::parse(&hung_url).unwrap(),
            ],
            rabbitmq_management: Some(
                Endpoint::parse(&format!("http://u:secret@{}", &refused[7..])).unwrap(),
            ),
            vhost: "platform".into(),
        };
        let started = Instant::now();
        let topology = Source::new(config).read().await;
        assert!(started.elapsed() < TIMEOUT * 2, "{:?}", started.elapsed());
        assert!(!topology.single_node);
        let Reading::Failed(haproxy) = &topology.instances else {
            panic!("HAProxy failed")
        };
        assert!(haproxy.contains("no answer within 1 s"), "{haproxy}");
        let Reading::Failed(patroni) = &topology.postgres else {
            panic!("Patroni failed")
        };
        assert!(
            patroni.contains(&refused) && patroni.contains("no answer within"),
            "{patroni}"
        );
        let Reading::Failed(broker) = &topology.broker else {
            panic!("RabbitMQ failed")
        };
        assert!(
            broker.to_lowercase().contains("refused") && !broker.contains("secret"),
            "{broker}"
        );
        drop(hung);
    }

    #[derive(Template)]
    #[template(path = "topology.html")]
    struct Panel {
        topology: Topology,
    }

    #[tokio::test]
    async fn nothing_configured_is_the_single_node_stack() {
        let topology = Source::new(Config::default()).read().await;
        assert!(topology.single_node);
        assert!(matches!(
            topology.broker,
            Reading::NotConfigured("RABBITMQ_MANAGEMENT_URL")
        ));
        let html = Panel { topology }.render().unwrap();
        assert!(html.contains("single-node stack"), "{html}");
        assert!(html.contains("RABBITMQ_MANAGEMENT_URL"), "{html}");
    }

    #[test]
    fn the_panel_shows_every_source_and_escapes_what_they_say() {
        let nodes: Vec<RabbitNode> = serde_json::from_str(NODES).unwrap();
        let answers = vec![answer(
            "http://p1/",
            Ok(CLUSTER),
            Ok(r#"{"synchronous_mode":false}"#),
        )];
        let topology = Topology {
            single_node: false,
            instances: Reading::Read(parse_stats(STATS).unwrap()),
            postgres: postgres_view(answers),
            broker: Reading::Read(broker_view(nodes, Err("<b>401</b>".into()))),
        };
        let html = Panel { topology }.render().unwrap();
        assert!(html.contains("HA stack"), "{html}");
        assert!(
            html.contains(r#"data-server="order-b" data-ready="false""#),
            "{html}"
        );
        assert!(html.contains("pg1</strong>"), "the primary: {html}");
        assert!(html.contains("asynchronous"), "{html}");
        assert!(
            html.contains(r#"data-node="platform-ha3@localhost" data-running="false""#),
            "{html}"
        );
        assert!(!html.contains("<b>401"), "escaped: {html}");
        let failed = Topology {
            single_node: false,
            instances: Reading::Failed("http://h/stats;csv: no answer within 1 s".into()),
            postgres: Reading::NotConfigured("PATRONI_URLS"),
            broker: Reading::Failed("http://r/: Connection refused".into()),
        };
        let html = Panel { topology: failed }.render().unwrap();
        assert!(
            html.contains("no answer within 1 s") && html.contains("Connection refused"),
            "{html}"
        );
        assert!(html.contains("PATRONI_URLS"), "{html}");
    }
}
