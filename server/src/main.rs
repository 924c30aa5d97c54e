//! `bando`: serve, migrate, import. Thin: parse the command line, load the configuration, call
//! the library.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use layers::{
    LayerId,
    import::{ColumnNames, ImportMode, ImportRequest},
    legacy_text::TextEncodingChoice,
    store::postgis,
};
use server::{config::Config, load, package::PackageFormat, state::AppState};

#[derive(Parser)]
#[command(name = "bando", version, about = "Bando map service: vector tiles and OGC API - Features from PostGIS")]
struct Cli {
    /// Configuration file (default: the bundled sample province).
    #[arg(long, global = true, env = "BANDO_CONFIG")]
    config: Option<PathBuf>,
    /// How log lines are written: plain text (coloured only on a terminal), or one JSON object
    /// per line.
    #[arg(long, global = true, env = "BANDO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the layers over HTTP.
    Serve {
        /// Listening address (overrides the configuration).
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
    },
    /// Apply the database migrations.
    Migrate,
    /// Check the configuration and the database connection, and load each layer as serving
    /// would, printing its status; exits 1 when a layer cannot be served. Serves nothing.
    Check,
    /// Import a file into a layer, or with --all every configured layer's file into its table.
    Import {
        /// Shapefile, GeoPackage, GeoJSON, KML or CSV (lon/lat columns).
        #[arg(required_unless_present = "all")]
        path: Option<PathBuf>,
        /// Target layer id; a new id creates the layer.
        #[arg(long, required_unless_present = "all")]
        layer: Option<String>,
        /// The layer of a file that holds several (a GeoPackage table, for instance).
        #[arg(long)]
        source_layer: Option<String>,
        /// CRS of the source, e.g. EPSG:9210 (default: what the file declares).
        #[arg(long, value_parser = layers::crs::parse_srid)]
        src_crs: Option<i32>,
        /// Name a new layer's columns in lower case with `_` for what SQL would quote, as
        /// ogr2ogr does (default: the source's names as written).
        #[arg(long)]
        launder: bool,
        /// Replace the layer's features or append to them.
        #[arg(long, value_enum, default_value_t = Mode::Replace)]
        mode: Mode,
        /// Fail on the first row that does not fit the table (default: reject that row, list it
        /// in the report, and write the others).
        #[arg(long)]
        strict: bool,
        /// Encoding of the text fields: auto (each field's own, recognised from its values:
        /// UTF-8, or TCVN3, VNI or Windows-1258 converted to Unicode), or one for all of them.
        #[arg(long, default_value = "auto", value_name = "auto|utf8|tcvn3|vni|cp1258")]
        text_encoding: TextEncodingChoice,
        /// Import every configured layer that has both a file and a table.
        #[arg(long, conflicts_with_all = ["path", "layer", "src_crs", "source_layer"])]
        all: bool,
    },
    /// Write layers' tiles as one PMTiles archive for offline use: every non-empty tile of the
    /// zoom range, rendered as `/tiles/a,b/…` renders it, identical tiles stored once.
    Export {
        /// The layers, comma-separated, drawn together in every tile.
        #[arg(long, value_delimiter = ',', required = true)]
        layers: Vec<String>,
        /// The first zoom (default: the lowest of the layers').
        #[arg(long)]
        minzoom: Option<u8>,
        /// The last zoom (default: the highest of the layers', at most 14).
        #[arg(long)]
        maxzoom: Option<u8>,
        /// Only the tiles that meet this lon/lat box: min lon, min lat, max lon, max lat.
        #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
        bbox: Option<Vec<f64>>,
        /// Also package layers that are not public (a package is a file handed out: by default
        /// only public layers go into one).
        #[arg(long)]
        allow_non_public: bool,
        /// The archive to write (written beside it first, so a failed export leaves none).
        #[arg(long, short)]
        output: PathBuf,
        /// The archive's format (default: from the output's extension, `.mbtiles` or else
        /// PMTiles).
        #[arg(long, value_enum)]
        format: Option<ArchiveFormat>,
    },
    /// Manage API keys: stored hashed in PostGIS, or printed for the config file without one.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// List the layers of the catalog, or publish one: its access level, title, description
    /// and temporal property (running servers apply the change at once).
    Layers {
        #[command(subcommand)]
        action: LayersAction,
    },
    /// Prune the change log to its retention now (`[database] change_log_days` and
    /// `change_log_rows`); running servers also do it every minute.
    PruneChanges,
    /// Print the latest audit entries (reads of restricted layers, every write), or with
    /// `--layer` and `--feature` one feature's history with its state before and after each write.
    Audit {
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// The layer of `--feature`.
        #[arg(long, requires = "feature")]
        layer: Option<String>,
        /// A feature whose history to print.
        #[arg(long, requires = "layer")]
        feature: Option<i64>,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create a key for a role and print it (once: only its hash is kept).
    Create {
        /// The role, one of the configuration's `[roles]`.
        #[arg(long)]
        role: String,
    },
    /// List the keys: id, role, created, revoked.
    List,
    /// Revoke a key by id; a running server stops accepting it at once.
    Revoke {
        /// The key's id.
        id: String,
    },
}

#[derive(Subcommand)]
enum LayersAction {
    /// Every layer: id, access level, rows, temporal property, table, title.
    List,
    /// Change an imported layer (layers of the configuration file are changed there).
    Set {
        /// The layer id.
        id: String,
        /// Who may read it.
        #[arg(long, value_enum)]
        access: Option<Access>,
        /// Its title.
        #[arg(long)]
        title: Option<String>,
        /// Its description.
        #[arg(long)]
        description: Option<String>,
        /// Its temporal property: a date or date-time column (default: the first one).
        #[arg(long, conflicts_with = "no_temporal")]
        temporal: Option<String>,
        /// No temporal property: `datetime` then matches every feature.
        #[arg(long)]
        no_temporal: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Access {
    Public,
    Internal,
    Restricted,
}

#[derive(Clone, Copy, ValueEnum)]
enum ArchiveFormat {
    Pmtiles,
    Mbtiles,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Replace,
    Append,
}

/// Exit status for bad input (a file, a flag, the configuration), as the CLI documents.
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::anyhow!("starting the runtime: {e}")),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Logs to stderr: colour codes only when it is a terminal (a log file or journal gets plain
/// text), or JSON lines.
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=error,geo=error".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().flatten_event(true).with_current_span(false).init(),
    }
}

/// Prints the error on one line; bad input exits 2, anything else 1.
fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", e.to_string().replace('\n', " "));
    let bad_input = e.downcast_ref::<layers::Error>().is_some_and(layers::Error::is_bad_input)
        || e.downcast_ref::<server::config::ConfigError>().is_some()
        || e.downcast_ref::<BadInput>().is_some();
    ExitCode::from(if bad_input { BAD_INPUT } else { 1 })
}

/// A usage error the CLI itself detects.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadInput(String);

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { addr } => serve(config, addr).await,
        Command::Check => check(&config).await,
        Command::Migrate => {
            migrated(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Export { layers, minzoom, maxzoom, bbox, allow_non_public, output, format } => {
            let package = package(&config, &layers, minzoom, maxzoom, bbox, allow_non_public).await?;
            let mbtiles = output.extension().is_some_and(|e| e.eq_ignore_ascii_case("mbtiles"));
            let format = match format {
                Some(ArchiveFormat::Mbtiles) => PackageFormat::MbTiles,
                Some(ArchiveFormat::Pmtiles) => PackageFormat::PmTiles,
                None if mbtiles => PackageFormat::MbTiles,
                None => PackageFormat::PmTiles,
            };
            export(package, format, output).await
        }
        Command::Keys { action } => keys(&config, action).await,
        Command::Layers { action } => layers_command(&config, action).await,
        Command::PruneChanges => {
            let gone = layers::store::changes::prune(&migrated(&config).await?, config.database.retention()).await?;
            println!("{gone} changes pruned");
            Ok(())
        }
        Command::Audit { layer: Some(layer), feature: Some(feature), .. } => {
            let history = layers::store::security::feature_history(&connect(&config).await?, &layer, feature).await?;
            for (e, before, after) in history {
                let state = |s: Option<serde_json::Value>| s.map_or_else(|| "-".to_owned(), |v| v.to_string());
                println!(
                    "{}\t{}\t{}\t{}\t{}\tbefore {}\tafter {}",
                    e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    e.who,
                    e.role.unwrap_or_default(),
                    e.action,
                    e.client.unwrap_or_default(),
                    state(before),
                    state(after)
                );
            }
            Ok(())
        }
        Command::Audit { limit, .. } => {
            for e in layers::store::security::recent_audit(&connect(&config).await?, limit).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    e.who,
                    e.role.unwrap_or_default(),
                    e.action,
                    e.target,
                    e.client.unwrap_or_default()
                );
            }
            Ok(())
        }
        Command::Import { path, layer, source_layer, src_crs, launder, strict, mode, all, text_encoding } => {
            let mode = match mode {
                Mode::Replace => ImportMode::Replace,
                Mode::Append => ImportMode::Append,
            };
            let names = if launder { ColumnNames::Laundered } else { ColumnNames::AsWritten };
            let pool = migrated(&config).await?;
            let requests = if all {
                config
                    .layer_defs()
                    .into_iter()
                    .filter(|d| d.source.table.is_some())
                    .filter_map(|d| {
                        let path = d.source.file.clone()?;
                        Some(ImportRequest {
                            path,
                            source_layer: d.source.layer.clone(),
                            layer: d.id.clone(),
                            src_srid: None,
                            mode,
                            names,
                            strict,
                            configured: Some(d),
                            text_encoding,
                        })
                    })
                    .collect()
            } else {
                let layer: LayerId = layer.unwrap_or_default().parse().map_err(BadInput)?;
                let configured = config.layers.get(layer.as_str()).cloned();
                let path = path.unwrap_or_default();
                vec![ImportRequest {
                    path,
                    source_layer,
                    layer,
                    src_srid: src_crs,
                    mode,
                    names,
                    strict,
                    configured,
                    text_encoding,
                }]
            };
            for req in requests {
                let outcome = import(&pool, &req).await;
                let action = if outcome.is_ok() { "import" } else { "import-failed" };
                server::audit::record_cli(&pool, action, req.layer.as_str()).await;
                outcome?;
            }
            Ok(())
        }
    }
}

async fn keys(config: &Config, action: KeysAction) -> anyhow::Result<()> {
    use layers::store::security;
    let pool = match &config.database.url {
        Some(_) => Some(migrated(config).await?),
        None => None,
    };
    match (action, pool) {
        (KeysAction::Create { role }, pool) => {
            if !config.roles.contains_key(&role) {
                let known: Vec<&String> = config.roles.keys().collect();
                return Err(BadInput(format!("no role {role:?}; the configured roles are {known:?}")).into());
            }
            let (id, key) = server::auth::new_key()?;
            let hash = server::auth::hash(&key);
            println!("{key}");
            match pool {
                Some(pool) => {
                    security::add_key(&pool, &id, &role, &hash).await?;
                    server::audit::record_cli(&pool, "key-create", &id).await;
                    eprintln!("key {id} ({role}) stored; the key above is not shown again");
                }
                None => eprintln!(
                    "no database: add this to the configuration file\n[[keys]]\nid = \"{id}\"\nrole = \"{role}\"\nhash = \"{hash}\""
                ),
            }
        }
        (KeysAction::List, Some(pool)) => {
            for k in security::keys(&pool).await? {
                let revoked =
                    k.revoked_at.map(|t| format!("revoked {}", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
                println!(
                    "{}\t{}\t{}\t{}",
                    k.id,
                    k.role,
                    k.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    revoked.unwrap_or_else(|| "active".into())
                );
            }
            for k in &config.keys {
                println!("{}\t{}\t(configuration file)\tactive", k.id, k.role);
            }
        }
        (KeysAction::Revoke { id }, Some(pool)) => {
            if !security::revoke_key(&pool, &id).await? {
                return Err(BadInput(format!("no active key {id:?}")).into());
            }
            server::audit::record_cli(&pool, "key-revoke", &id).await;
            println!("key {id} revoked");
        }
        (_, None) => {
            return Err(BadInput("keys in the configuration file are listed and removed by editing it".into()).into());
        }
    }
    Ok(())
}

/// `bando check`: the configuration was read and validated on the way here; then the database
/// (when one is configured) and every layer, one line each.
async fn check(config: &Config) -> anyhow::Result<()> {
    println!("configuration {}: valid", config.origin);
    let pool = match &config.database.url {
        None => None,
        Some(_) => {
            let pool = connect(config).await.context("connecting to the database")?;
            let version: String = sqlx::query_scalar("SELECT postgis_full_version()")
                .fetch_one(&pool)
                .await
                .context("asking the database for PostGIS")?;
            println!("database: connected, {}", version.split_whitespace().take(2).collect::<Vec<_>>().join(" "));
            Some(pool)
        }
    };
    let defs = load::catalog(config, pool.as_ref()).await?;
    let checks = load::check(defs, pool.as_ref()).await;
    let mut failed = 0;
    for c in &checks {
        let outcome = match &c.outcome {
            Ok(n) => format!("ok\t{n} features"),
            Err(e) => {
                failed += 1;
                format!("FAILED\t{}", e.replace('\n', " "))
            }
        };
        println!("layer {}\t{}\t{}\t{outcome}", c.def.id, postgis::access_name(c.def.access), c.source);
    }
    anyhow::ensure!(failed == 0, "{failed} of {} layers cannot be served", checks.len());
    Ok(())
}

/// The package `bando export` asked for, its layers loaded as serving would load them.
async fn package(
    config: &Config,
    ids: &[String],
    minzoom: Option<u8>,
    maxzoom: Option<u8>,
    bbox: Option<Vec<f64>>,
    allow_non_public: bool,
) -> anyhow::Result<server::package::Package> {
    let pool = match &config.database.url {
        None => None,
        Some(_) => Some(connect(config).await.context("connecting to the database")?),
    };
    let mut defs = load::catalog(config, pool.as_ref()).await?;
    let mut layers = Vec::with_capacity(ids.len());
    for id in ids {
        let at = defs.iter().position(|d| d.id.as_str() == id).ok_or_else(|| BadInput(format!("no layer {id:?}")))?;
        let mut def = defs.swap_remove(at);
        if def.access != layers::AccessLevel::Public && !allow_non_public {
            let access = postgis::access_name(def.access);
            return Err(BadInput(format!(
                "layer {id} is {access}: only public layers are packaged without --allow-non-public"
            ))
            .into());
        }
        let index = load::load_now(&mut def, pool.as_ref()).await.map_err(|e| anyhow::anyhow!("layer {id}: {e}"))?;
        layers.push(Arc::new(server::layer::Layer::new(def, index)));
    }
    let minzoom = minzoom.unwrap_or_else(|| layers.iter().map(|l| l.def.minzoom).min().unwrap_or(0));
    let maxzoom = maxzoom.unwrap_or_else(|| layers.iter().map(|l| l.def.maxzoom).max().unwrap_or(0).min(14));
    if minzoom > maxzoom || maxzoom > layers::catalog::MAX_ZOOM {
        return Err(BadInput(format!(
            "zooms {minzoom}-{maxzoom}: the first must not pass the last, nor the last {}",
            layers::catalog::MAX_ZOOM
        ))
        .into());
    }
    let bbox = match bbox.as_deref() {
        None => None,
        Some(&[a, b, c, d])
            if a < c
                && b < d
                && [a, c].iter().all(|x| (-180.0..=180.0).contains(x))
                && [b, d].iter().all(|y| (-90.0..=90.0).contains(y)) =>
        {
            Some([a, b, c, d])
        }
        Some(other) => {
            return Err(BadInput(format!(
                "--bbox {other:?}: min lon, min lat, max lon, max lat, each minimum below its maximum"
            ))
            .into());
        }
    };
    Ok(server::package::Package { layers, minzoom, maxzoom, bbox })
}

/// `bando export`: the archive, written beside `output` then moved there, with a progress line
/// and a summary.
async fn export(package: server::package::Package, format: PackageFormat, output: PathBuf) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new_spinner().with_message(format!(
        "{} ← z{}-{}",
        output.display(),
        package.minzoom,
        package.maxzoom
    ));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg}: {human_pos} tiles tried ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let partial = {
        let mut name = output.clone().into_os_string();
        name.push(".partial");
        PathBuf::from(name)
    };
    let (progress, to) = (bar.clone(), partial.clone());
    let written = tokio::task::spawn_blocking(move || package.write(&to, format, &|n| progress.inc(n)))
        .await
        .map_err(anyhow::Error::from)
        .and_then(|w| w.map_err(anyhow::Error::from))
        .and_then(|summary| {
            std::fs::rename(&partial, &output)
                .with_context(|| format!("moving the archive to {}", output.display()))?;
            Ok(summary)
        });
    bar.finish_and_clear();
    // Whatever failed, no partial archive is left behind.
    let summary = written.inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    println!(
        "{}: {} tiles, {} bytes, {:.1} s",
        output.display(),
        summary.tiles,
        summary.bytes,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn connect(config: &Config) -> anyhow::Result<sqlx::PgPool> {
    let url = config
        .database
        .url
        .as_deref()
        .ok_or_else(|| BadInput("no database configured: set DATABASE_URL or [database] url".into()))?;
    Ok(postgis::connect(url, None, 16).await?)
}

async fn layers_command(config: &Config, action: LayersAction) -> anyhow::Result<()> {
    use layers::store::publish::{self, LayerChanges, Temporal};
    let pool = migrated(config).await?;
    match action {
        LayersAction::List => {
            println!("{:<28} {:<10} {:>9}  {:<16} {:<28} title", "id", "access", "rows", "temporal", "table");
            for e in publish::list(&pool).await? {
                let temporal =
                    e.temporal.as_deref().map_or("(first date)", |t| if t.is_empty() { "(none)" } else { t });
                let origin = if e.imported { "" } else { "  [configured]" };
                let access = layers::store::postgis::access_name(e.access);
                let table = e.table.to_string();
                println!("{:<28} {access:<10} {:>9}  {temporal:<16} {table:<28} {}{origin}", e.id, e.features, e.title);
            }
        }
        LayersAction::Set { id, access, title, description, temporal, no_temporal } => {
            let id: LayerId = id.parse().map_err(BadInput)?;
            if config.layers.contains_key(id.as_str()) {
                return Err(BadInput(format!("layer {id} is defined in {}: change it there", config.origin)).into());
            }
            let changes = LayerChanges {
                access: access.map(|a| match a {
                    Access::Public => layers::AccessLevel::Public,
                    Access::Internal => layers::AccessLevel::Internal,
                    Access::Restricted => layers::AccessLevel::Restricted,
                }),
                title,
                description,
                temporal: if no_temporal { Some(Temporal::Off) } else { temporal.map(Temporal::Property) },
            };
            publish::set(&pool, &id, &changes).await?;
            server::audit::record_cli(&pool, "layer-set", id.as_str()).await;
            println!("layer {id} changed");
        }
    }
    Ok(())
}

/// A pool on a database whose migrations are applied.
async fn migrated(config: &Config) -> anyhow::Result<sqlx::PgPool> {
    let pool = connect(config).await?;
    postgis::migrate(&pool).await?;
    Ok(pool)
}

async fn import(pool: &sqlx::PgPool, req: &ImportRequest) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new_spinner().with_message(format!("{} ← {}", req.layer, req.path.display()));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg}: {human_pos} rows read ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let progress_bar = bar.clone();
    let message = format!("{} ← {}", req.layer, req.path.display());
    let progress = Arc::new(move |stage| match stage {
        layers::import::Stage::Reading(n) => progress_bar.set_position(n),
        layers::import::Stage::Writing => progress_bar.set_message(format!("{message}, writing")),
        layers::import::Stage::Committing => progress_bar.set_message(format!("{message}, committing")),
    });
    let report = layers::import::import(pool, req, progress).await;
    bar.finish_and_clear();
    println!("{}", report?);
    Ok(())
}

async fn serve(config: Config, addr: Option<std::net::SocketAddr>) -> anyhow::Result<()> {
    let addr = addr.unwrap_or(config.server.addr);
    // Migrations run on a pool of their own: the serving pool's statement timeout is not meant
    // for them. The change-log follower has its own few connections, so that no burst of
    // request work (audit rows) can hold back a key's revocation or an edit.
    let (pool, follower_pool) = match &config.database.url {
        Some(url) => {
            migrated(&config).await?;
            let timeout = Some(std::time::Duration::from_secs(config.limits.statement_timeout_s));
            (Some(postgis::connect(url, timeout, 16).await?), Some(postgis::connect(url, timeout, 3).await?))
        }
        None => (None, None),
    };
    let defs = load::catalog(&config, pool.as_ref()).await?;
    let keyring = server::keys::keyring(&config, pool.as_ref()).await?;
    let state = AppState::new(config.settings(), keyring, pool.clone(), server::web::Web::load(&config.web));
    state.set_tilesets(server::tilesets::open_all(&config.tilesets).await.map_err(anyhow::Error::msg)?);
    if let Ok(Some(grid)) = config.tiles.vn2000_grid() {
        state.set_vn2000_grid(grid);
    }
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    tracing::info!(
        %addr, config = %config.origin, store = if pool.is_some() { "postgis" } else { "files" },
        layers = defs.len(), "listening"
    );
    if let Some(pool) = follower_pool {
        let following = server::live::Following {
            configured: config.layer_defs(),
            retention: config.database.retention(),
            poll: config.database.change_poll(),
            replica: config.database.replica_name(listener.local_addr().unwrap_or(addr)),
        };
        tokio::spawn(server::live::follow(state.clone(), pool, following));
    }
    if let Some(pool) = &pool {
        tokio::spawn(server::monitoring::watch(state.clone(), pool.clone()));
        tokio::spawn(server::monitoring::follow_alerts(state.clone(), pool.clone()));
        server::webhooks::start(&state, pool);
    }
    tokio::spawn(load::load_all(state.clone(), defs, pool));
    let app = server::app(state.clone());
    let closing = state.clone();
    let shutdown = async move {
        shutdown_signal().await;
        // Change streams never end by themselves: end them so that the shutdown can finish.
        closing.hub().close();
    };
    server::listener::serve(listener, app, state.settings(), shutdown).await;
    state.audit().drain(std::time::Duration::from_secs(10)).await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM so that in-flight requests finish before exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
