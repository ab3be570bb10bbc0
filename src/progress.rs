//! Progress bars on stderr: one per input, driven by the compressed bytes read.
//!
//! Shown only when asked for (stderr is a terminal and `--quiet` is off); otherwise every
//! call is a no-op, so pipelines' logs stay clean. The counters are plain atomics that
//! the input reader bumps; a ticker thread turns them into bar positions.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::io::InputSource;

#[derive(Clone)]
pub struct Progress {
    counters: Arc<Vec<Arc<AtomicU64>>>,
    bars: Option<Arc<Bars>>,
}

struct Bars {
    multi: MultiProgress,
    bars: Vec<ProgressBar>,
    running: AtomicBool,
}

impl Progress {
    pub fn new(enabled: bool, inputs: &[InputSource]) -> Self {
        let counters = Arc::new(inputs.iter().map(|_| Arc::new(AtomicU64::new(0))).collect());
        if !enabled {
            return Progress {
                counters,
                bars: None,
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{prefix:.bold} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> ");
        let spinner =
            ProgressStyle::with_template("{prefix:.bold} {spinner} {bytes} {bytes_per_sec}")
                .expect("valid template");
        let bars = inputs
            .iter()
            .map(|input| {
                let len = match input {
                    InputSource::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
                    InputSource::Stdin => None,
                };
                let bar = match len {
                    Some(_) => ProgressBar::hidden().with_style(style.clone()),
                    None => ProgressBar::hidden().with_style(spinner.clone()),
                };
                if let Some(l) = len {
                    bar.set_length(l);
                }
                bar.set_prefix(input.display_name());
                bar
            })
            .collect();
        let bars = Arc::new(Bars {
            multi,
            bars,
            running: AtomicBool::new(true),
        });
        let ticker = Arc::clone(&bars);
        let ticks: Arc<Vec<Arc<AtomicU64>>> = Arc::clone(&counters);
        std::thread::spawn(move || {
            while ticker.running.load(Ordering::Relaxed) {
                for (bar, c) in ticker.bars.iter().zip(ticks.iter()) {
                    bar.set_position(c.load(Ordering::Relaxed));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Progress {
            counters,
            bars: Some(bars),
        }
    }

    /// The counter the reader of input `file` adds its bytes to.
    pub fn counter(&self, file: usize) -> Arc<AtomicU64> {
        Arc::clone(&self.counters[file])
    }

    pub fn start_file(&self, file: usize) {
        if let Some(b) = &self.bars {
            let bar = b.multi.add(b.bars[file].clone());
            bar.reset_elapsed();
        }
    }

    pub fn finish_file(&self, file: usize) {
        if let Some(b) = &self.bars {
            let bar = &b.bars[file];
            bar.set_position(self.counters[file].load(Ordering::Relaxed));
            bar.finish();
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bars {
            b.running.store(false, Ordering::Relaxed);
            for bar in &b.bars {
                bar.finish_and_clear();
            }
            let _ = b.multi.clear();
        }
    }
}
