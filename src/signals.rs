//! SIGINT, SIGTERM, SIGHUP: remove what an unfinished run leaves (temp files, a directory
//! it made for `--outdir`: `protmask::cleanup`), then exit with 128 + the signal, as
//! shells report a command a signal ended (130 for SIGINT, 143 for SIGTERM, 129 for
//! SIGHUP).
//!
//! On Unix the three signals are blocked before any other thread exists, so every thread
//! inherits the mask, and one thread waits for them (`sigwait`): the cleanup runs in
//! ordinary code, not in a signal handler, and knows which signal came. Elsewhere
//! `ctrlc` reports Ctrl-C (and closing the console) without saying which: 130.

/// Install the handling; call first thing in `main`.
#[cfg(unix)]
pub fn install() {
    // SAFETY: `sigset_t` is plain data initialised by `sigemptyset`; `pthread_sigmask` and
    // `sigwait` only read the set. Blocking happens before any thread is spawned.
    unsafe {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        let mut set = set.assume_init();
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, signal);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        let waiter = std::thread::Builder::new()
            .name("protmask-signals".into())
            .spawn(move || {
                loop {
                    let mut signal = 0;
                    if libc::sigwait(&set, &mut signal) == 0 {
                        protmask::cleanup::remove_all_at_exit();
                        std::process::exit(128 + signal);
                    }
                }
            });
        if waiter.is_err() {
            // No thread to receive them: let the signals end the process as by default.
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}

#[cfg(not(unix))]
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        protmask::cleanup::remove_all_at_exit();
        std::process::exit(protmask::cleanup::INTERRUPTED);
    });
}
