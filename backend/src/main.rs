use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match backend::Config::load() {
        Ok(config) => config,
        Err(exit) => return exit,
    };
    backend::telemetry::init();
    match backend::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", backend::error_chain(&error));
            ExitCode::FAILURE
        }
    }
}
