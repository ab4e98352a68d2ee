//! The `datalogger` command line: `run`, `check` and `plugin inspect`.

use clap::{Parser, Subcommand};
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
    /// Work with plugin files.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Print what a plugin's describe() says and what it imports.
    Inspect { file: PathBuf },
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
        Command::Plugin {
            command: PluginCommand::Inspect { file },
        } => inspect(file),
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
    let registry = match app::load_plugins(&config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
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

fn inspect(file: PathBuf) -> ExitCode {
    init_logging(Some("warn"));
    match plugins::inspect(&file) {
        Ok((info, imports)) => {
            println!("plugin {} {}", info.name, info.version);
            println!("  {}", info.description);
            println!("keys:");
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
                println!("  {}{unit}{arg} - {}", k.name, k.description);
            }
            println!("imports:");
            for i in imports {
                println!("  {i}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}: {e:#}", file.display());
            ExitCode::FAILURE
        }
    }
}
