//! Progress bars on stderr (the binary's): one per input, driven by the bytes the
//! engine's readers consume.
//!
//! Made only when asked for (stderr is a terminal and `--quiet` is off), so pipelines'
//! logs stay clean. The engine hands each input's byte counter over when it starts
//! reading it (`engine::Progress`); a ticker thread turns the counters into bar positions.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use protmask::io::InputSource;

pub struct Bars {
    multi: MultiProgress,
    bars: Vec<ProgressBar>,
    /// Each input's counter, once it is being read.
    counters: Mutex<Vec<Option<Arc<AtomicU64>>>>,
    running: AtomicBool,
}

impl Bars {
    /// Bars for `inputs` (a bar with a length for a file, a spinner for a stream), and
    /// the ticker thread that moves them.
    pub fn new(inputs: &[InputSource]) -> Arc<Bars> {
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
                let bar = match protmask::io::input_size(input) {
                    Some(len) => {
                        let bar = ProgressBar::hidden().with_style(style.clone());
                        bar.set_length(len);
                        bar
                    }
                    None => ProgressBar::hidden().with_style(spinner.clone()),
                };
                bar.set_prefix(input.display_name());
                bar
            })
            .collect();
        let bars = Arc::new(Bars {
            multi,
            bars,
            counters: Mutex::new(vec![None; inputs.len()]),
            running: AtomicBool::new(true),
        });
        let ticker = Arc::clone(&bars);
        std::thread::spawn(move || {
            while ticker.running.load(Ordering::Relaxed) {
                ticker.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        bars
    }

    fn tick(&self) {
        let Ok(counters) = self.counters.lock() else {
            return;
        };
        for (bar, c) in self.bars.iter().zip(counters.iter()) {
            if let Some(c) = c {
                bar.set_position(c.load(Ordering::Relaxed));
            }
        }
    }
}

impl protmask::engine::Progress for Bars {
    fn start_file(&self, file: usize, read: &Arc<AtomicU64>) {
        if let Ok(mut counters) = self.counters.lock() {
            counters[file] = Some(Arc::clone(read));
        }
        let bar = self.multi.add(self.bars[file].clone());
        bar.reset_elapsed();
    }

    fn finish_file(&self, file: usize) {
        self.tick();
        self.bars[file].finish();
    }

    fn finish(&self) {
        self.running.store(false, Ordering::Relaxed);
        for bar in &self.bars {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}
