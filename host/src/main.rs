//! The `datalogger` command line: `run`, `check`, `import isems`, `plugin
//! inspect`, `plugin test` and `plugin new`.

use clap::{Parser, Subcommand};
use datalogger::capabilities::{BusGrant, Capabilities, Grants, I2cSettings};
use datalogger::{app, config, plugins};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "datalogger",
    version,
    about = "A data logger whose collectors are sandboxed WebAssembly plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load plugins, sample the configured items, store samples, serve the REST API.
    Run {
        #[arg(long, default_value = config::DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Check the config and the plugins; exit non-zero listing every problem.
    Check {
        #[arg(long, default_value = config::DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Bring another tool's history into the store (stop the logger first).
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Work with plugin files.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// The ISEMS collector's SQLite database (its `measurement` table).
    ///
    /// Rows become the points isems.node makes of the same lines (measurement
    /// isems, tag nodeId), stored under the item name --item; running it again
    /// adds nothing. Its naive timestamps are read as wall time in --zone; rows
    /// in the hour a DST change repeats are listed and left out unless
    /// --ambiguous picks one of the two instants. Outputs in the config forward
    /// the imported rows like any others.
    Isems(ImportIsemsArgs),
}

#[derive(clap::Args)]
struct ImportIsemsArgs {
    /// The database file (the original's DATABASE_URL without `sqlite:///`).
    file: PathBuf,
    /// The logger's config: its store, outputs and compat.isems settings.
    #[arg(long, default_value = config::DEFAULT_CONFIG)]
    config: PathBuf,
    /// The zone the timestamps were written in [default: compat.isems.zone, else Europe/Berlin].
    #[arg(long, value_name = "ZONE")]
    zone: Option<String>,
    /// What to do with a time the autumn DST change repeats.
    #[arg(long, value_enum, default_value = "skip")]
    ambiguous: datalogger::compat::isems_import::Ambiguous,
    /// The item name the rows are stored under.
    #[arg(long, default_value = "isems-import")]
    item: String,
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Print what a plugin's describe() says and what it imports.
    Inspect(InspectArgs),
    /// Load one plugin, call sample(KEY, ARG) once and print the points (or the error).
    ///
    /// With `--payload FILE` (`-` for stdin), KEY names a decoder instead, e.g.
    /// `isems.csvlog`, and decode() reads the file as if it had arrived over
    /// MQTT on `--topic`.
    ///
    /// The plugin gets only the grants given here, e.g.
    /// `--grant '{"http": ["any"]}'`, and a simulated I2C bus with
    /// `--i2c '{"buses": [{"bus": 1, "simulated": [{"chip": "hts221"}]}]}'`
    /// (or `--sensehat` for the Sense HAT's two chips on bus 1). `--config`
    /// takes both, and the sandbox limits, from a logger config instead.
    Test(TestArgs),
    /// Start a plugin project that builds and passes `plugin inspect` as it is.
    New {
        /// The plugin's name: the prefix of its keys (NAME.hello).
        name: String,
        /// rust, python, js or c.
        #[arg(long, default_value = "rust")]
        lang: String,
        /// Where to create it [default: ./NAME].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct InspectArgs {
    /// The plugin file (.wasm component).
    file: PathBuf,
    /// Where compiled code is cached [default: ~/.cache/datalogger].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile without reading or writing the cache.
    #[arg(long)]
    no_cache: bool,
}

#[derive(clap::Args)]
struct TestArgs {
    /// The plugin file (.wasm component).
    file: PathBuf,
    /// The key to sample, e.g. `net.ping` (or, with --payload, the decoder).
    key: String,
    /// The item's argument, if the key takes one.
    arg: Option<String>,
    /// Decode this file (`-`: stdin) with the decoder KEY instead of sampling.
    #[arg(long, value_name = "FILE")]
    payload: Option<PathBuf>,
    /// The MQTT topic the payload is said to have come on (with --payload).
    #[arg(long, value_name = "TOPIC", default_value = "/plugin-test")]
    topic: String,
    /// Grants for the plugin, as in the config's "plugins" entry (JSON).
    #[arg(long, value_name = "JSON")]
    grant: Option<String>,
    /// The config's "i2c" section (JSON), e.g. a simulated bus.
    #[arg(long, value_name = "JSON")]
    i2c: Option<String>,
    /// Simulate the Sense HAT (HTS221 at 0x5f, LPS25H at 0x5c on bus 1) and grant both.
    #[arg(long)]
    sensehat: bool,
    /// Take grants, capability sections and sandbox limits from this config.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where compiled code is cached [default: ~/.cache/datalogger].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile without reading or writing the cache.
    #[arg(long)]
    no_cache: bool,
}

fn init_logging(level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level.unwrap_or("info")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => run(config),
        Command::Check { config } => check(config),
        Command::Import {
            command: ImportCommand::Isems(args),
        } => import_isems(args),
        Command::Plugin {
            command: PluginCommand::Inspect(args),
        } => inspect(args),
        Command::Plugin {
            command: PluginCommand::Test(args),
        } => plugin_test(args),
        Command::Plugin {
            command: PluginCommand::New { name, lang, dir },
        } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            match datalogger::scaffold::create(&name, &lang, &dir) {
                Ok(_) => {
                    println!("{}", datalogger::scaffold::next_steps(&name, &dir));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn run(path: PathBuf) -> ExitCode {
    let (config, doc) = match config::load(&path) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_level.as_deref());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(app::run(config, doc)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: PathBuf) -> ExitCode {
    let config = match config::load(&path) {
        Ok((config, _)) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(Some(config.log_level.as_deref().unwrap_or("warn")));
    let registry = match app::plugin_registry(&config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    // `check` waits for every plugin, big ones included.
    registry.rescan();
    let mut problems: Vec<String> = registry
        .failures()
        .iter()
        .map(|f| format!("plugin file {}: {}", f.file.display(), f.reason))
        .collect();
    if !config.plugins_dir.is_dir() {
        problems.push(format!(
            "plugins folder {} does not exist; build the plugins with scripts/build-plugins or set \"plugins_dir\"",
            config.plugins_dir.display()
        ));
    }
    problems.extend(app::item_problems(&config, &registry));
    if problems.is_empty() {
        println!(
            "{}: OK ({} plugins, {} items)",
            path.display(),
            registry.plugins().len(),
            config.items.len()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!("{}: {} problem(s):", path.display(), problems.len());
        for p in &problems {
            eprintln!("  - {p}");
        }
        ExitCode::FAILURE
    }
}

/// Prints to stdout, ignoring a closed pipe (`datalogger plugin inspect x | head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

fn import_isems(args: ImportIsemsArgs) -> ExitCode {
    use datalogger::compat::isems_import::{self, Options};
    let (config, _) = match config::load(&args.config) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(Some(config.log_level.as_deref().unwrap_or("warn")));
    let compat = config.compat.isems.clone().unwrap_or_default();
    let zone_name = args.zone.clone().unwrap_or(compat.zone.clone());
    let Ok(zone) = zone_name.parse::<chrono_tz::Tz>() else {
        eprintln!("error: --zone {zone_name:?} is not a time zone; use an IANA name such as Europe/Berlin or UTC");
        return ExitCode::from(2);
    };
    let (source, total, has_status) = match isems_import::open(&args.file) {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let outputs: Vec<String> = config.outputs.iter().map(|o| o.name.clone()).collect();
    let store = match datalogger::store::Store::open_with(&config.store, &outputs) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot open the store {}: {e:#}", config.store.path.display());
            return ExitCode::FAILURE;
        }
    };
    let options = Options {
        zone,
        measurement: compat.measurement.clone(),
        item: args.item.clone(),
        ambiguous: args.ambiguous,
    };
    let bar = indicatif::ProgressBar::new(total).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows, {per_sec}, {eta} left")
            .expect("a valid template"),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(isems_import::run(&source, has_status, &store, &options, |n| {
        bar.set_position(n)
    }));
    bar.finish_and_clear();
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    const LISTED: usize = 50;
    for s in report.skipped.iter().take(LISTED) {
        eprintln!(
            "skipped row id {} (node {:?}, {}): {}",
            s.id, s.node, s.timestamp, s.detail
        );
    }
    if report.skipped.len() > LISTED {
        eprintln!("... and {} more skipped rows", report.skipped.len() - LISTED);
    }
    out!(
        "{}: {} rows read, {} imported into {} as item {:?}, {} already in the store, {} older than the store's retention, {} skipped",
        args.file.display(),
        report.read,
        report.imported,
        config.store.path.display(),
        options.item,
        report.already_stored,
        report.too_old,
        report.skipped.len()
    );
    for (why, n) in report.skipped_by_reason() {
        out!("  skipped {n}: {}", why.describe());
    }
    ExitCode::SUCCESS
}

/// Where the plugin commands cache compiled code: `$XDG_CACHE_HOME/datalogger`
/// or `~/.cache/datalogger` (a 15 MB Python component compiles for seconds).
fn user_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("datalogger"))
}

fn inspect(args: InspectArgs) -> ExitCode {
    init_logging(Some("warn"));
    let cache = if args.no_cache {
        None
    } else {
        args.cache_dir.or_else(user_cache_dir)
    };
    match plugins::inspect(&args.file, cache.as_deref()) {
        Ok(plugins::Opened {
            info,
            decoders,
            imports,
            ..
        }) => {
            out!("plugin {} {}", info.name, info.version);
            out!("  {}", info.description);
            out!("keys:");
            for k in &info.keys {
                let arg = match &k.arg {
                    Some(a) if a.required => format!(" (arg required: {})", a.description),
                    Some(a) => format!(" (arg optional: {})", a.description),
                    None => String::new(),
                };
                let unit = if k.unit.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", k.unit)
                };
                out!("  {}{unit}{arg} - {}", k.name, k.description);
            }
            if !decoders.is_empty() {
                out!("decoders:");
                for d in &decoders {
                    out!("  {} - {}", d.name, d.description);
                }
            }
            out!("imports:");
            for i in imports {
                out!("  {i}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}: {e:#}", args.file.display());
            ExitCode::FAILURE
        }
    }
}

/// The Sense HAT's chips on a simulated bus 1, for `plugin test --sensehat`.
const SENSEHAT_BUS: &str = r#"{"buses": [{"bus": 1, "simulated": [{"chip": "hts221"}, {"chip": "lps25h"}]}]}"#;

fn plugin_test(args: TestArgs) -> ExitCode {
    init_logging(Some("info"));
    let usage = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    };
    let base = match &args.config {
        Some(path) => match config::load(path) {
            Ok((c, _)) => Some(c),
            Err(e) => return usage(e.to_string()),
        },
        None => None,
    };
    let mut settings = base.as_ref().map(|c| c.sandbox.clone()).unwrap_or_default();
    let mut capabilities = base.as_ref().map(|c| c.capabilities.clone()).unwrap_or_default();
    let i2c_json = args.i2c.as_deref().or(args.sensehat.then_some(SENSEHAT_BUS));
    if let Some(json) = i2c_json {
        match serde_json::from_str::<I2cSettings>(json) {
            Ok(s) => capabilities.i2c = s,
            Err(e) => return usage(format!("--i2c: {e}; e.g. {SENSEHAT_BUS}")),
        }
        if let Some(problem) = capabilities.i2c.check().into_iter().next() {
            return usage(format!("--i2c: {problem}"));
        }
    }
    let mut extra = Grants::default();
    if let Some(json) = &args.grant {
        match serde_json::from_str::<Grants>(json) {
            Ok(g) => extra = g,
            Err(e) => {
                return usage(format!(
                    "--grant: {e}; e.g. '{{\"http\": [\"any\"], \"files\": [\"/proc/loadavg\"]}}'"
                ))
            }
        }
    }
    if args.sensehat {
        extra.i2c.0.push(BusGrant {
            bus: 1,
            addresses: Some(vec![0x5C, 0x5F]),
        });
    }
    // A plugin test should not be cut short by a busy machine's first compile.
    settings.max_concurrent_calls = settings.max_concurrent_calls.min(4);
    let file = args.file.clone();
    let from_config = args.grant.is_none() && !args.sensehat;
    let grants_for = move |name: &str| match &base {
        Some(c) if from_config => c.plugins.grants_for(name, &file),
        _ => extra.clone(),
    };
    let caps = Capabilities::new(capabilities);
    let cache = if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(user_cache_dir)
    };
    let payload = match &args.payload {
        None => None,
        Some(p) if p.as_os_str() == "-" => {
            let mut bytes = Vec::new();
            if let Err(e) = std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes) {
                return usage(format!("--payload -: cannot read stdin: {e}"));
            }
            Some(bytes)
        }
        Some(p) => match std::fs::read(p) {
            Ok(bytes) => Some(bytes),
            Err(e) => return usage(format!("--payload {}: {e}", p.display())),
        },
    };
    if payload.is_some() && args.arg.is_some() {
        return usage("--payload: a decoder takes no ARG; give only the decoder's name".into());
    }
    let call = match &payload {
        Some(bytes) => plugins::trial::Call::Decode {
            decoder: &args.key,
            topic: &args.topic,
            payload: bytes,
        },
        None => plugins::trial::Call::Sample {
            key: &args.key,
            arg: args.arg.as_deref(),
        },
    };
    let what = match &payload {
        Some(bytes) => format!("decode({:?}, {} bytes on {:?})", args.key, bytes.len(), args.topic),
        None => format!("sample({:?}, {:?})", args.key, args.arg),
    };
    let trial = match plugins::trial::run(&args.file, call, grants_for, caps, settings, cache.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: {e:#}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let how = match trial.origin {
        plugins::Origin::Cache => "from the cache",
        plugins::Origin::Compiled => "compiled",
    };
    eprintln!(
        "plugin {} {}: loaded in {:.1?} ({how}), {what} took {:.1?}",
        trial.info.name, trial.info.version, trial.load_time, trial.call_time
    );
    match trial.result {
        Ok(samples) => {
            for s in &samples {
                out!("{}", s.to_json());
            }
            eprintln!("{} point(s)", samples.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
