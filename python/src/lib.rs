//! The Python module `protmask`: `Masker` and `Masked`, a thin layer over the library.
//!
//! Options go through `MaskConfig::from_options` (the CLI's own flag parsing and preset
//! resolution), records through `online::RecordMasker` (the record layer's checks, the
//! masker, the dataset's encoders), so Python gets exactly what `protmask mask` writes.
//! Results are built cheaply: one str and numpy arrays per record, no Python int per
//! position. `mask_many` masks on the rayon pool with the GIL released.

use std::sync::{Arc, Mutex};

use numpy::PyArray1;
use protmask::config::{MaskConfig, MaskOptions};
use protmask::mask::Marks;
use protmask::online::{MaskedRecord, RecordMasker};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyDict, PyInt, PyString, PyTuple};

/// The masks of protmask's presets and schedules, reproducibly, as `protmask mask` makes
/// them (same options, seed, ID, sequence and replicate: same mask).
///
/// Arguments are the CLI's flags: ``preset`` (esm3, esm2, dplm, evodiff, mdlm), ``seed``
/// (64-bit), ``schedule`` (the schedule grammar), ``mode`` (bernoulli, exact, oadm),
/// ``mask_token``, ``corrupt`` (three fractions masked, replaced, kept), ``maskable``
/// (eligible residues), ``tokens`` ("esm" adds ``input_ids`` and ``labels``),
/// ``timesteps`` ("iid" or "stratified"); ``None`` takes the preset's. ``threads``
/// (keyword only) sets the worker threads of ``mask_many`` (default: all cores).
/// A bad value raises ``ValueError`` with the CLI's message.
#[pyclass(frozen, module = "protmask")]
struct Masker {
    inner: RecordMasker,
    config: MaskConfig,
    /// `mask_many`'s own pool, never rayon's global one, and made by the process that
    /// uses it: a child forked by multiprocessing (DataLoader workers, `datasets.map`
    /// with `num_proc`) inherits a pool whose threads it does not have, and would wait on
    /// it forever, so a new process (another pid) builds its own.
    pool: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>>,
    /// The constructor's arguments, for pickling (`datasets.map` hashes and ships the
    /// function that holds a Masker; `num_proc` and DataLoader workers copy it).
    args: Py<PyTuple>,
    threads: Option<usize>,
}

/// One masked record: what ``protmask mask --dataset`` writes for it.
#[pyclass(frozen, get_all, module = "protmask")]
struct Masked {
    /// The output residues, unwrapped, with the mask token.
    masked: Py<PyString>,
    /// 0-based selected positions, ascending (numpy int32).
    positions: Py<PyArray1<i32>>,
    /// The timestep (bit-identical to the rates table's).
    t: f64,
    /// The mask rate drawn (bit-identical to the rates table's).
    rate: f64,
    /// The number of selected positions.
    count: usize,
    /// L, the number of eligible positions.
    length: usize,
    /// With ``tokens="esm"``: ESM ids of the output, ``<cls>`` ... ``<eos>`` (numpy int32).
    input_ids: Option<Py<PyArray1<i32>>>,
    /// With ``tokens="esm"``: the original's id at selected positions, -100 elsewhere.
    labels: Option<Py<PyArray1<i32>>>,
}

#[pymethods]
impl Masked {
    /// Made by ``Masker``; this constructor is for pickling (DataLoader workers send
    /// results to the main process).
    #[new]
    #[pyo3(signature = (masked, positions, t, rate, count, length, input_ids = None, labels = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        masked: Py<PyString>,
        positions: Py<PyArray1<i32>>,
        t: f64,
        rate: f64,
        count: usize,
        length: usize,
        input_ids: Option<Py<PyArray1<i32>>>,
        labels: Option<Py<PyArray1<i32>>>,
    ) -> Self {
        Masked {
            masked,
            positions,
            t,
            rate,
            count,
            length,
            input_ids,
            labels,
        }
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let m = slf.get();
        let args = (
            m.masked.clone_ref(py),
            m.positions.clone_ref(py),
            m.t,
            m.rate,
            m.count,
            m.length,
            m.input_ids.as_ref().map(|a| a.clone_ref(py)),
            m.labels.as_ref().map(|a| a.clone_ref(py)),
        )
            .into_pyobject(py)?;
        Ok((slf.get_type().into_any(), args))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Masked(masked={:?}, count={}, length={}, t={}, rate={})",
            self.masked.bind(py).to_string(),
            self.count,
            self.length,
            self.t,
            self.rate
        )
    }
}

fn to_python(py: Python<'_>, r: MaskedRecord) -> Masked {
    let masked = std::str::from_utf8(&r.masked).expect("residues and tokens are ASCII");
    let (input_ids, labels) = match r.tokens {
        Some((ids, labels)) => (
            Some(PyArray1::from_slice(py, &ids).unbind()),
            Some(PyArray1::from_slice(py, &labels).unbind()),
        ),
        None => (None, None),
    };
    Masked {
        masked: PyString::new(py, masked).unbind(),
        positions: PyArray1::from_slice(py, &r.positions).unbind(),
        t: r.t,
        rate: r.rate,
        count: r.count,
        length: r.length,
        input_ids,
        labels,
    }
}

fn value_error(e: impl ToString) -> PyErr {
    PyValueError::new_err(e.to_string())
}

#[pymethods]
impl Masker {
    #[new]
    #[pyo3(signature = (
        preset = "esm3", seed = None, schedule = None, mode = None, mask_token = None,
        corrupt = None, maskable = None, tokens = None, timesteps = None, *, threads = None
    ))]
    #[pyo3(text_signature = "(preset='esm3', seed=42, schedule=None, mode=None, \
        mask_token=None, corrupt=None, maskable=None, tokens=None, timesteps=None, *, \
        threads=None)")]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        preset: &str,
        seed: Option<&Bound<'_, PyAny>>,
        schedule: Option<String>,
        mode: Option<String>,
        mask_token: Option<String>,
        corrupt: Option<Vec<f64>>,
        maskable: Option<String>,
        tokens: Option<String>,
        timesteps: Option<String>,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        let args = (
            preset,
            seed,
            schedule.clone(),
            mode.clone(),
            mask_token.clone(),
            corrupt.clone(),
            maskable.clone(),
            tokens.clone(),
            timesteps.clone(),
        )
            .into_pyobject(py)?
            .unbind();
        let seed = match seed {
            None => None,
            Some(s) if s.is_instance_of::<PyInt>() => Some(s.str()?.to_string()),
            Some(s) => {
                return Err(PyTypeError::new_err(format!(
                    "seed must be an int, not {}",
                    s.get_type().name()?
                )));
            }
        };
        // The CLI's text for each value: `{}` prints the shortest decimal that reads back
        // as the same f64, so the fractions are exactly the ones given.
        let corrupt = corrupt.map(|v| {
            v.iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join(",")
        });
        let options = MaskOptions {
            preset: Some(preset.to_string()),
            seed,
            schedule,
            mode,
            mask_token,
            corrupt,
            maskable,
            timesteps,
            tokens,
        };
        let config = MaskConfig::from_options(&options).map_err(value_error)?;
        if threads == Some(0) {
            return Err(value_error("threads must be at least 1"));
        }
        Ok(Masker {
            inner: RecordMasker::new(&config),
            config,
            pool: Mutex::new(None),
            args,
            threads,
        })
    }

    /// Mask one record, as ``protmask mask`` masks it (replicate counts from 1).
    /// Raises ``ValueError`` for a bad ID or residue, and with stratified timesteps (one
    /// record has no order to stratify over: use ``mask_many``).
    #[pyo3(signature = (id, sequence, replicate = 1))]
    fn mask(&self, py: Python<'_>, id: &str, sequence: &str, replicate: u32) -> PyResult<Masked> {
        if self.inner.stratified() {
            return Err(value_error(
                "stratified timesteps spread over a batch in order: one record has none; \
                 use mask_many on the whole batch, or timesteps=\"iid\"",
            ));
        }
        let r = self
            .inner
            .mask(id, sequence.as_bytes(), replicate, 0, &mut Marks::default())
            .map_err(value_error)?;
        Ok(to_python(py, r))
    }

    /// Mask a batch in parallel, without holding the GIL: a list of ``Masked`` in order.
    /// Record i is the i-th record of one input, so with stratified timesteps a batch
    /// holding a whole file in order equals ``protmask mask`` on that file. Raises
    /// ``ValueError`` naming the first bad record (1-based number in the batch, and ID).
    #[pyo3(signature = (ids, sequences, replicate = 1))]
    fn mask_many(
        &self,
        py: Python<'_>,
        ids: Vec<PyBackedStr>,
        sequences: Vec<PyBackedStr>,
        replicate: u32,
    ) -> PyResult<Vec<Masked>> {
        let pool = self.pool()?;
        let results = py
            .detach(|| pool.install(|| self.inner.mask_batch(&ids, &sequences, replicate)))
            .map_err(value_error)?;
        Ok(results.into_iter().map(|r| to_python(py, r)).collect())
    }

    /// The resolved options as JSON (the ``options`` of a ``protmask mask`` manifest).
    #[getter]
    fn options(&self) -> String {
        serde_json_string(&self.config)
    }

    /// Pickling: the same arguments make the same Masker.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let me = slf.get();
        let kwargs = PyDict::new(py);
        kwargs.set_item("threads", me.threads)?;
        let partial = py.import("functools")?.getattr("partial")?;
        let make = partial.call((slf.get_type(),), Some(&kwargs))?;
        Ok((make, me.args.bind(py).clone()))
    }

    fn __repr__(&self) -> String {
        format!("protmask.Masker({})", serde_json_string(&self.config))
    }
}

impl Masker {
    /// This process's pool for `mask_many`, built on first use.
    fn pool(&self) -> PyResult<Arc<rayon::ThreadPool>> {
        let pid = std::process::id();
        let mut slot = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((owner, pool)) = slot.as_ref()
            && *owner == pid
        {
            return Ok(pool.clone());
        }
        let mut builder = rayon::ThreadPoolBuilder::new();
        if let Some(n) = self.threads {
            builder = builder.num_threads(n);
        }
        let pool = Arc::new(builder.build().map_err(value_error)?);
        // A pool inherited through fork has no threads here: forget it, never join it.
        if let Some(old) = slot.replace((pid, pool.clone())) {
            std::mem::forget(old);
        }
        Ok(pool)
    }
}

fn serde_json_string(config: &MaskConfig) -> String {
    serde_json::to_string(config).expect("a MaskConfig serialises")
}

/// The same masks in a training loop as on disk: ``Masker`` gives, for the same options,
/// seed, ID, sequence and replicate, exactly what ``protmask mask`` writes.
#[pymodule]
#[pyo3(name = "protmask")]
fn protmask_python(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Masker>()?;
    m.add_class::<Masked>()?;
    // One source of truth: the workspace's version, which is the CLI's.
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
