use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match backend::Config::load() {
        Ok(config) => config,
        Err(exit) => return exit,
    };
    backend::telemetry::init();
    if let Some(backend::config::Command::Keys { action: backend::config::KeysCommand::Rotate }) = &config.command {
        return match backend::rotate_keys(&config, &backend::clock::SystemClock).await {
            Ok(done) => {
                println!("{done}");
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
