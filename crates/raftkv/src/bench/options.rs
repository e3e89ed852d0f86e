//! The flags of `raftkv bench` and their validation.
//!
//! clap parses the flags; [`BenchArgs::plan`] checks what clap cannot (ranges, limits, an
//! empty endpoint) and turns them into a [`Plan`], the one value the rest of the benchmark
//! reads. Every limit is a named constant, and every refusal says which flag and why.

use std::time::Duration;

use clap::{Args, ValueEnum};

use super::keys::KeyDistribution;

/// Most concurrent clients (each is one connection).
pub const MAX_CLIENTS: usize = 10_000;
/// Most commands one client keeps in flight (`--pipeline`).
pub const MAX_PIPELINE: usize = 10_000;
/// Largest value, in bytes (raftkv's and Redis's bulk limit is larger; a benchmark needs less).
pub const MAX_VALUE_SIZE: usize = 64 * 1024 * 1024;
/// Most distinct keys.
pub const MAX_KEYSPACE: u64 = 1 << 40;
/// Default measured time when neither `--requests` nor `--duration` is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// Output format of the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Human-readable lines.
    Text,
    /// One JSON object.
    Json,
}

/// Flags of `raftkv bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Client addresses (host:port) of the servers, comma-separated; clients are spread over
    /// them and move to the next one when theirs fails or redirects
    /// [default: $RAFTKV_ENDPOINTS, else .raftkv-local/endpoints, else 127.0.0.1:6379].
    #[arg(long, value_delimiter = ',')]
    pub endpoints: Vec<String>,
    /// `--user` / `--password` (or RAFTKV_PASSWORD): every connection authenticates first.
    #[command(flatten)]
    pub auth: crate::auth::AuthArgs,
    /// Concurrent clients, each one connection.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Stop after this many measured requests in all (instead of --duration).
    #[arg(long, conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// Measured time, e.g. `10s`, `500ms`, `2m` (default 10s).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Commands each client sends before reading their replies (1: one in flight).
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Value size of writes, in bytes.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Distinct keys (`key:000000000000` up).
    #[arg(long, default_value_t = 100_000)]
    pub keyspace: u64,
    /// Fraction of requests that are GETs (the rest are SETs), from 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub read_ratio: f64,
    /// How keys are drawn.
    #[arg(long, value_enum, default_value_t = KeyDistribution::Uniform)]
    pub keys: KeyDistribution,
    /// Unmeasured load before the measured part, e.g. `1s` (0 for none).
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub warmup: Duration,
    /// Seed of the key and operation generators (the same seed gives the same sequence).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// TLS to the servers.
    #[command(flatten)]
    pub tls: crate::tls_args::TlsArgs,
}

/// When the measured part ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopAfter {
    /// After this many requests in all.
    Requests(u64),
    /// After this long.
    Duration(Duration),
}

/// Validated settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Server addresses, at least one, none empty.
    pub endpoints: Vec<String>,
    /// Concurrent clients, 1..=[`MAX_CLIENTS`].
    pub clients: usize,
    /// When to stop.
    pub stop: StopAfter,
    /// Commands in flight per client, 1..=[`MAX_PIPELINE`].
    pub pipeline: usize,
    /// Value size in bytes, at most [`MAX_VALUE_SIZE`].
    pub value_size: usize,
    /// Distinct keys, 1..=[`MAX_KEYSPACE`].
    pub keyspace: u64,
    /// Probability that a request is a GET, 0..=1.
    pub read_ratio: f64,
    /// Key distribution.
    pub keys: KeyDistribution,
    /// Unmeasured time before measuring.
    pub warmup: Duration,
    /// Generator seed.
    pub seed: u64,
    /// Summary format.
    pub output: Output,
}

impl BenchArgs {
    /// Check the flags and return the plan, or say which flag is wrong and why.
    pub fn plan(&self) -> Result<Plan, String> {
        let endpoints: Vec<String> = if self.endpoints.is_empty() {
            crate::endpoints::resolve(&[])
        } else {
            self.endpoints
                .iter()
                .map(|e| e.trim().to_string())
                .collect()
        };
        if endpoints.is_empty() || endpoints.iter().any(String::is_empty) {
            return Err("--endpoints: empty address in the list".into());
        }
        if let Some(bad) = endpoints.iter().find(|e| !e.contains(':')) {
            return Err(format!("--endpoints: `{bad}` is not host:port"));
        }
        in_range("--clients", self.clients as u64, 1, MAX_CLIENTS as u64)?;
        in_range("--pipeline", self.pipeline as u64, 1, MAX_PIPELINE as u64)?;
        in_range(
            "--value-size",
            self.value_size as u64,
            0,
            MAX_VALUE_SIZE as u64,
        )?;
        in_range("--keyspace", self.keyspace, 1, MAX_KEYSPACE)?;
        if !(0.0..=1.0).contains(&self.read_ratio) {
            return Err(format!(
                "--read-ratio must be between 0 and 1, got {}",
                self.read_ratio
            ));
        }
        let stop = match (self.requests, self.duration) {
            (Some(0), _) => return Err("--requests must be at least 1".into()),
            (Some(n), _) => StopAfter::Requests(n),
            (None, Some(d)) if d.is_zero() => return Err("--duration must be above 0".into()),
            (None, Some(d)) => StopAfter::Duration(d),
            (None, None) => StopAfter::Duration(DEFAULT_DURATION),
        };
        Ok(Plan {
            endpoints,
            clients: self.clients,
            stop,
            pipeline: self.pipeline,
            value_size: self.value_size,
            keyspace: self.keyspace,
            read_ratio: self.read_ratio,
            keys: self.keys,
            warmup: self.warmup,
            seed: self.seed,
            output: self.output,
        })
    }
}

fn in_range(flag: &str, value: u64, min: u64, max: u64) -> Result<(), String> {
    if value < min || value > max {
        return Err(format!(
            "{flag} must be between {min} and {max}, got {value}"
        ));
    }
    Ok(())
}

/// Parse `500ms`, `10s`, `2m`, `1h`, or a bare number of seconds (fractions allowed).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (try 10s, 500ms, 2m)"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}` (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn plan(args: &[&str]) -> Result<Plan, String> {
        let mut all = vec!["bench"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all)
            .map_err(|e| e.to_string())?
            .bench
            .plan()
    }

    #[test]
    fn defaults() {
        let p = plan(&[]).unwrap();
        assert_eq!(p.endpoints, crate::endpoints::resolve(&[]));
        assert_eq!(p.stop, StopAfter::Duration(DEFAULT_DURATION));
        assert_eq!((p.clients, p.pipeline, p.value_size), (50, 1, 100));
        assert_eq!(p.keys, KeyDistribution::Uniform);
        assert_eq!(p.warmup, Duration::from_secs(1));
        assert_eq!(p.output, Output::Text);
    }

    #[test]
    fn every_flag() {
        let p = plan(&[
            "--endpoints",
            "a:1, b:2",
            "--clients",
            "8",
            "--requests",
            "1000",
            "--pipeline",
            "16",
            "--value-size",
            "10",
            "--keyspace",
            "5",
            "--read-ratio",
            "0.5",
            "--keys",
            "zipfian",
            "--warmup",
            "0",
            "--seed",
            "7",
            "--output",
            "json",
        ])
        .unwrap();
        assert_eq!(p.endpoints, vec!["a:1", "b:2"]);
        assert_eq!(p.stop, StopAfter::Requests(1000));
        assert_eq!(
            (p.clients, p.pipeline, p.value_size, p.keyspace),
            (8, 16, 10, 5)
        );
        assert_eq!(
            (p.read_ratio, p.keys, p.seed),
            (0.5, KeyDistribution::Zipfian, 7)
        );
        assert_eq!((p.warmup, p.output), (Duration::ZERO, Output::Json));
    }

    #[test]
    fn bad_flags_say_why() {
        let cases: &[(&[&str], &str)] = &[
            (&["--clients", "0"], "--clients must be between 1"),
            (&["--pipeline", "0"], "--pipeline must be between 1"),
            (&["--keyspace", "0"], "--keyspace must be between 1"),
            (
                &["--read-ratio", "1.5"],
                "--read-ratio must be between 0 and 1",
            ),
            (&["--requests", "0"], "--requests must be at least 1"),
            (&["--duration", "0s"], "--duration must be above 0"),
            (&["--duration", "5x"], "unknown unit `x`"),
            (&["--duration", "fast"], "is not a duration"),
            (&["--endpoints", "a:1,,b:2"], "empty address"),
            (&["--endpoints", "localhost"], "is not host:port"),
            (
                &["--requests", "5", "--duration", "1s"],
                "cannot be used with",
            ),
            (&["--keys", "gaussian"], "invalid value 'gaussian'"),
            (
                &["--value-size", "999999999999"],
                "--value-size must be between 0",
            ),
        ];
        for (args, want) in cases {
            let err = plan(args).unwrap_err();
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
