//! The `c2c` binary: one process that runs the web, gateway and SBC roles.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use c2c::config::Config;

/// WebRTC click-to-call gateway.
#[derive(Parser)]
#[command(name = "c2c", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Configuration file (TOML); `C2C_*` environment variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Add a demo campaign and an in-process demo trunk that echoes audio.
        #[arg(long)]
        demo: bool,
    },
    /// Check the configuration and exit.
    CheckConfig {
        /// Configuration file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        /// Configuration file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// API keys for server-to-server lookups.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Dashboard users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Agents who take the calls.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
}

#[derive(Subcommand)]
enum AgentCommand {
    /// Create an agent reached at the SIP devices registered with its account; prints a
    /// generated SIP password unless `--password-stdin` is given.
    Add {
        /// Configuration file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Organisation id the agent belongs to.
        #[arg(long)]
        org: String,
        /// The name admins see.
        #[arg(long)]
        name: String,
        /// SIP username (unique on this registrar): the user part of the phone's address.
        #[arg(long)]
        username: String,
        /// A skill as TAG=LEVEL (level 1 to 5), e.g. lang:de=5; repeat for several.
        #[arg(long = "skill")]
        skills: Vec<String>,
        /// Calls the agent carries at once.
        #[arg(long, default_value_t = 1)]
        max_calls: i64,
        /// Read the SIP password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a dashboard user (and its organisation when new); prints a generated password
    /// unless `--password-stdin` is given.
    Add {
        /// Configuration file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Login email.
        #[arg(long)]
        email: String,
        /// Organisation id the user belongs to.
        #[arg(long)]
        org: String,
        /// owner, admin or viewer.
        #[arg(long, default_value = "admin")]
        role: String,
        /// Read the password from the first line of standard input instead of generating
        /// and printing one.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Start signing with a new key; the old one verifies for 10 more minutes. Running
    /// servers pick the change up within 10 seconds.
    Rotate {
        /// Configuration file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create an API key for an organisation and print it (shown only once).
    Add {
        /// Configuration file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Organisation id the key may read.
        #[arg(long)]
        org: String,
        /// What the key is for.
        #[arg(long, default_value = "")]
        label: String,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,str0m=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config, demo } => {
            // Before any thread exists: exec replaces the process (same pid and arguments).
            if let Some(e) = c2c::arenas::cap() {
                tracing::warn!(error = %e, "malloc arenas not capped");
            }
            let config = load(config)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(c2c::server::serve(config, demo))
        }
        Command::Migrate { config } => {
            let c = load(config)?;
            runtime()?.block_on(async {
                c.open_store().await.context("database")?;
                println!("migrations applied");
                anyhow::Ok(())
            })
        }
        Command::Keys {
            command: KeysCommand::Rotate { config },
        } => {
            let c = load(config)?;
            let path = c.data_dir.join("keys.json");
            let now = c2c_token::clock::unix_now();
            // Create the file first on a fresh data dir, so rotation always has a predecessor.
            c2c_token::KeyRing::load_or_create(&path, now)
                .with_context(|| format!("signing keys at {}", path.display()))?;
            let kid = c2c_token::KeyRing::rotate(&path, now)
                .with_context(|| format!("rotating {}", path.display()))?;
            println!("new signing key {kid}; the previous key verifies for 10 more minutes");
            Ok(())
        }
        Command::ApiKey {
            command: ApiKeyCommand::Add { config, org, label },
        } => {
            let c = load(config)?;
            runtime()?.block_on(async {
                let store = c.open_store().await.context("database")?;
                let key = store
                    .create_api_key(&org, &label, c2c_token::clock::unix_now())
                    .await
                    .context("creating the API key")?;
                println!("{}", key.token);
                eprintln!(
                    "API key {} for org {org} created; store it now, it is not shown again",
                    key.id
                );
                anyhow::Ok(())
            })
        }
        Command::User {
            command:
                UserCommand::Add {
                    config,
                    email,
                    org,
                    role,
                    password_stdin,
                },
        } => {
            let c = load(config)?;
            let role = c2c_store::Role::parse(&role)
                .with_context(|| format!("--role {role:?}: use owner, admin or viewer"))?;
            runtime()?.block_on(async {
                let store = c.open_store().await.context("database")?;
                let (password, generated) = password(password_stdin)?;
                let now = c2c_token::clock::unix_now();
                store
                    .create_org(&org, &org, now)
                    .await
                    .context("organisation")?;
                let user = store
                    .create_user(&org, &email, &password, role, now)
                    .await
                    .context("creating the user")?
                    .with_context(|| format!("a user with the email {email} exists already"))?;
                eprintln!(
                    "user {} ({}) created in org {org}",
                    user.email,
                    role.as_str()
                );
                if generated {
                    println!("{password}");
                    eprintln!("that is the password; store it now, it is not shown again");
                }
                anyhow::Ok(())
            })
        }
        Command::Agent {
            command:
                AgentCommand::Add {
                    config,
                    org,
                    name,
                    username,
                    skills,
                    max_calls,
                    password_stdin,
                },
        } => {
            let c = load(config)?;
            let agent = c2c::agents::new_agent(&org, &name, &username, &skills, max_calls)
                .map_err(anyhow::Error::msg)?;
            runtime()?.block_on(async {
                let store = c.open_store().await.context("database")?;
                let (password, generated) = password(password_stdin)?;
                let now = c2c_token::clock::unix_now();
                let id = c2c::agents::add_agent(&store, &agent, &username, &c.registrar.realm, &password, now)
                    .await?;
                eprintln!("agent {id} ({name}) created in org {org}, SIP username {username}");
                if c.registrar.networks.is_empty() {
                    eprintln!("note: the registrar is off until [registrar] networks lists where phones register from");
                }
                if generated {
                    println!("{password}");
                    eprintln!("that is the SIP password; store it now, it is not shown again");
                }
                anyhow::Ok(())
            })
        }
        Command::CheckConfig { config } => {
            let c = load(config)?;
            println!(
                "configuration OK: {} trunk(s), {} campaign(s), HTTP {}, SIP {}",
                c.trunks.len(),
                c.campaigns.len(),
                c.http.listen,
                c.sip.listen
            );
            Ok(())
        }
    }
}

/// The password from standard input (at least 12 characters), or a generated one; and
/// whether it was generated (then it is printed once).
fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if !from_stdin {
        return Ok((c2c::server::new_password(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(
        line.chars().count() >= 12,
        "use a password of at least 12 characters"
    );
    Ok((line, false))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Loads the given file, else `./c2c.toml` when present, else defaults; then the environment.
fn load(path: Option<PathBuf>) -> anyhow::Result<Config> {
    let path = path.or_else(|| {
        let p = PathBuf::from("c2c.toml");
        p.exists().then_some(p)
    });
    Config::load(path.as_deref(), std::env::vars()).context("configuration")
}
