use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match backend::Config::load() {
        Ok(config) => config,
        Err(exit) => return exit,
    };
    backend::telemetry::init();
    if let Some(command) = &config.command {
        use backend::config::{AccountsCommand, Command, KeysCommand};
        let clock = backend::clock::SystemClock;
        let done = match command {
            Command::Keys { action: KeysCommand::Rotate { create } } => {
                backend::rotate_keys(&config, &clock, *create).await
            }
            Command::Keys { action: KeysCommand::List } => backend::list_keys(&config, &clock).await,
            Command::Keys { action: KeysCommand::Revoke { kid } } => backend::revoke_key(&config, &clock, kid).await,
            Command::Accounts { action: AccountsCommand::Conflicts } => backend::account_conflicts(&config).await,
        };
        return match done {
            Ok(done) => {
                println!("{}", done.trim_end());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {}", backend::error_chain(&error));
                ExitCode::FAILURE
            }
        };
    }
    match backend::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", backend::error_chain(&error));
            ExitCode::FAILURE
        }
    }
}
