//! The Python module `protmask`: `Masker` and `Masked`, a thin layer over the library.
//!
//! Options go keyword by keyword through `MaskOptions::set` and `MaskConfig::resolve`
//! (the library's one definition of the options, the command line's checks and
//! messages), records through `online::RecordMasker` (the record layer's checks, the
//! masker, the dataset's encoders), so Python gets exactly what `protmask mask` writes.
//! A new masking option of the library is a new keyword here with no change to this file.
//! Results are built cheaply: one str and numpy arrays per record, no Python int per
//! position. `mask_many` masks on the rayon pool with the GIL released. `verify` is
//! `protmask verify` (the library's `check::run`), its failures the CLI's one line.

use std::sync::{Arc, Mutex};

use std::collections::BTreeMap;
use std::path::PathBuf;

use numpy::PyArray1;
use protmask::check::{Report, Request};
use protmask::config::{
    MaskConfig, MaskOption, MaskOptions, OptionError as LibOptionError, OptionValue,
};
use protmask::mask::Marks;
use protmask::online::{MaskedRecord, RecordMasker};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyMapping, PyString, PyTuple};

/// The masks of protmask's presets and schedules, reproducibly, as `protmask mask` makes
/// them (same options, seed, ID, sequence and replicate: same mask).
///
/// Every masking option of ``protmask mask`` is a keyword of the same name with ``_`` for
/// ``-``: ``preset`` (see ``protmask.presets()``), ``seed`` (64-bit), ``schedule`` (the
/// schedule grammar), ``mode``, ``mask_token``, ``corrupt`` (three fractions masked,
/// replaced, kept), ``maskable``, ``timesteps``, ``tokens`` ("esm" or "evodiff" adds
/// ``input_ids`` and ``labels``), ``regions`` (a BED-style file, or a mapping of ID to (start, end) pairs,
/// 0-based, end exclusive), ``regions_mode``, ``span_mean``, ``span_max``, ``random_pool``
/// ("standard" or "extended"), ``random_differs`` (a bool), ``min_masked``, ``max_length``
/// and ``crop`` (a record longer is masked as its window, ``Masked.crop_start``); ``None`` takes
/// the preset's. ``threads`` (keyword only) sets the worker threads of ``mask_many``
/// (default: all cores). A bad value raises ``OptionError`` (a ``ValueError``) with the
/// CLI's message; an unknown keyword or a value of the wrong type, ``TypeError``.
#[pyclass(frozen, module = "protmask")]
struct Masker {
    inner: RecordMasker,
    config: MaskConfig,
    /// `mask_many`'s own pool, never rayon's global one, and made by the process that
    /// uses it: a child forked by multiprocessing (DataLoader workers, `datasets.map`
    /// with `num_proc`) inherits a pool whose threads it does not have, and would wait on
    /// it forever, so a new process (another pid) builds its own.
    pool: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>>,
    /// The options given, for pickling (`datasets.map` hashes and ships the function
    /// that holds a Masker; `num_proc` and DataLoader workers copy it).
    given: Py<PyDict>,
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
    /// With ``tokens``: ids of the output, ``<cls>`` ... ``<eos>`` (ESM) or ``@`` ... ``*``
    /// (EvoDiff) (numpy int32).
    input_ids: Option<Py<PyArray1<i32>>>,
    /// With ``tokens``: the original's id at selected positions, -100 elsewhere.
    labels: Option<Py<PyArray1<i32>>>,
    /// With ``max_length``, a record longer than it: the window's 0-based start in the
    /// original (the fields above are the window's); else None.
    crop_start: Option<usize>,
}

#[pymethods]
impl Masked {
    /// Made by ``Masker``; this constructor is for pickling (DataLoader workers send
    /// results to the main process).
    #[new]
    #[pyo3(signature = (masked, positions, t, rate, count, length, input_ids = None, labels = None,
                        crop_start = None))]
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
        crop_start: Option<usize>,
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
            crop_start,
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
            m.crop_start,
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
        crop_start: r.window.map(|w| w.start),
    }
}

#[pymethods]
impl Masker {
    #[new]
    #[pyo3(signature = (preset = None, seed = None, *, threads = None, **options))]
    #[pyo3(text_signature = "(preset='esm3', seed=42, *, threads=None, **options)")]
    fn new(
        py: Python<'_>,
        preset: Option<&Bound<'_, PyAny>>,
        seed: Option<&Bound<'_, PyAny>>,
        threads: Option<usize>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        // Every option goes through the library's `MaskOptions::set`, by name, with the
        // command line's checks and messages: no list of options here.
        let given = PyDict::new(py);
        if let Some(options) = options {
            given.update(options.as_mapping())?;
        }
        for (name, value) in [("preset", preset), ("seed", seed)] {
            if let Some(v) = value {
                given.set_item(name, v)?;
            }
        }
        let mut mask_options = MaskOptions::default();
        for (name, value) in given.iter() {
            let name: String = name.extract()?;
            if value.is_none() {
                continue;
            }
            let value = option_value(&name, &value)?;
            mask_options.set(&name, value).map_err(option_error)?;
        }
        let config = MaskConfig::resolve(mask_options).map_err(option_error)?;
        if threads == Some(0) {
            return Err(OptionError::new_err("threads must be at least 1"));
        }
        Ok(Masker {
            inner: RecordMasker::new(&config).map_err(option_error)?,
            config,
            pool: Mutex::new(None),
            given: given.unbind(),
            threads,
        })
    }

    /// Mask one record, as ``protmask mask`` masks it (replicate counts from 1).
    /// Raises ``RecordError`` for a bad ID or residue, and ``ValueError`` with stratified
    /// timesteps (one record has no order to stratify over: use ``mask_many``).
    #[pyo3(signature = (id, sequence, replicate = 1))]
    fn mask(&self, py: Python<'_>, id: &str, sequence: &str, replicate: u32) -> PyResult<Masked> {
        if self.inner.stratified() {
            return Err(PyValueError::new_err(
                "stratified timesteps spread over a batch in order: one record has none; \
                 use mask_many on the whole batch, or timesteps=\"iid\"",
            ));
        }
        let r = self
            .inner
            .mask(id, sequence.as_bytes(), replicate, 0, &mut Marks::default())
            .map_err(record_error)?;
        Ok(to_python(py, r))
    }

    /// Mask a batch in parallel, without holding the GIL: a list of ``Masked`` in order.
    /// Record i is the i-th record of one input, so with stratified timesteps a batch
    /// holding a whole file in order equals ``protmask mask`` on that file. Raises
    /// ``RecordError`` naming the first bad record (1-based number in the batch, and ID).
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
            .map_err(record_error)?;
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
        let kwargs = me.given.bind(py).copy()?;
        kwargs.set_item("threads", me.threads)?;
        let partial = py.import("functools")?.getattr("partial")?;
        let make = partial.call((slf.get_type(),), Some(&kwargs))?;
        Ok((make, PyTuple::empty(py)))
    }

    fn __repr__(&self) -> String {
        format!("protmask.Masker({})", serde_json_string(&self.config))
    }
}

/// A keyword's value as the library takes it, by its Python type: a bool, a string (or
/// path), an int (any size, as its decimal digits), a float, a sequence of numbers, or a
/// mapping of ID to (start, end) pairs.
fn option_value(name: &str, v: &Bound<'_, PyAny>) -> PyResult<OptionValue> {
    let py = v.py();
    let unsupported = |what: String| PyTypeError::new_err(format!("{name} cannot be {what}"));
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(OptionValue::Bool(b.is_true()));
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(OptionValue::Int(v.str()?.to_string()));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Ok(OptionValue::Float(f.value()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(OptionValue::Text(s.to_string()));
    }
    let os = py.import("os")?;
    if v.is_instance(&os.getattr("PathLike")?)? {
        return Ok(OptionValue::Text(
            os.call_method1("fspath", (v,))?.extract()?,
        ));
    }
    if let Ok(map) = v.cast::<PyMapping>() {
        let mut intervals = BTreeMap::new();
        for item in map.items()?.iter() {
            let (id, pairs): (String, Bound<'_, PyAny>) = item.extract().map_err(|_| {
                unsupported("a mapping other than ID (str) to (start, end) pairs".into())
            })?;
            let pairs: Vec<(i64, i64)> = pairs.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "{name}: the intervals of '{id}' are not a sequence of (start, end) int pairs"
                ))
            })?;
            intervals.insert(id, pairs);
        }
        return Ok(OptionValue::Intervals(intervals));
    }
    if let Ok(values) = v.extract::<Vec<f64>>() {
        return Ok(OptionValue::Floats(values));
    }
    Err(unsupported(format!("a {}", v.get_type().name()?)))
}

fn option_error(e: LibOptionError) -> PyErr {
    match e {
        LibOptionError::WrongType { .. } => PyTypeError::new_err(e.to_string()),
        LibOptionError::Unknown(name) => PyTypeError::new_err(format!(
            "Masker() got an unexpected keyword argument '{name}'"
        )),
        e => OptionError::new_err(e.to_string()),
    }
}

fn record_error(e: protmask::records::RecordError) -> PyErr {
    RecordError::new_err(e.to_string())
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
        let pool = Arc::new(
            builder
                .build()
                .map_err(|e| PyValueError::new_err(e.to_string()))?,
        );
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

pyo3::create_exception!(
    protmask,
    OptionError,
    PyValueError,
    "A masking option that cannot be used: the command line's message."
);
pyo3::create_exception!(
    protmask,
    RecordError,
    PyValueError,
    "A record that cannot be masked: its 1-based number, its ID and what is wrong."
);
pyo3::create_exception!(
    protmask,
    VerifyError,
    PyValueError,
    "A masked set that is not what it should be: the first disagreement."
);

/// Every preset, in order: its name and what it sets (``schedule``, ``mode``,
/// ``mask_token``, ``corrupt``, ``timesteps``) and the reference code it follows, as
/// ``protmask schedule --list --format json`` lists them.
#[pyfunction]
fn presets(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let json = serde_json::to_string(&protmask::presets::list())
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (json,))
}

/// Verify a masked set as ``protmask verify`` does: ``masked`` (a FASTA or a dataset) is a
/// masking of ``original``; with ``rates``, the table agrees; with ``manifest``, every
/// checksum matches and the recorded job, run again, reproduces the recorded outputs.
/// ``preset``, ``mask_token``, ``corrupt``, ``maskable``, ``random_pool``, ``regions``,
/// ``regions_mode``, ``max_length`` and ``crop`` are the flags of the same names (``None``: what a Parquet ``masked`` or the manifest
/// records, else the preset's, else the defaults; one given must agree with what is
/// recorded). Returns what was verified: ``records``, ``replicates``, ``changed``
/// (positions showing as masked or replaced), ``uncertain`` (of those, a residue-letter
/// token over the same residue), ``selected`` (the ``masked`` column's sum, with a rates
/// table or a dataset, else None), ``rows`` (of the rates table or dataset, else None),
/// ``identical`` and ``same_content`` (regenerated outputs, with a manifest, else None),
/// ``from_metadata`` (the options came from the Parquet dataset's metadata). Raises ``VerifyError`` with the
/// CLI's message for the first disagreement or an unreadable file, ``OptionError`` for a
/// bad option, ``ValueError`` for a request that cannot work. Runs without the GIL.
#[pyfunction]
#[pyo3(signature = (original, masked, *, rates = None, manifest = None, preset = None,
                    mask_token = None, corrupt = None, maskable = None, random_pool = None,
                    regions = None, regions_mode = None, max_length = None, crop = None))]
#[allow(clippy::too_many_arguments)] // the keywords of `protmask verify`
fn verify<'py>(
    py: Python<'py>,
    original: PathBuf,
    masked: PathBuf,
    rates: Option<PathBuf>,
    manifest: Option<PathBuf>,
    preset: Option<&Bound<'py, PyAny>>,
    mask_token: Option<&Bound<'py, PyAny>>,
    corrupt: Option<&Bound<'py, PyAny>>,
    maskable: Option<&Bound<'py, PyAny>>,
    random_pool: Option<&Bound<'py, PyAny>>,
    regions: Option<PathBuf>,
    regions_mode: Option<&Bound<'py, PyAny>>,
    max_length: Option<&Bound<'py, PyAny>>,
    crop: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    // The masking flags, checked as `Masker`'s keywords are (the CLI's checks and messages).
    let mut options = MaskOptions::default();
    let preset = preset.filter(|v| !v.is_none());
    for (name, value) in [
        ("preset", preset),
        ("mask_token", mask_token),
        ("corrupt", corrupt),
        ("maskable", maskable),
        ("random_pool", random_pool),
        ("regions_mode", regions_mode),
        ("max_length", max_length),
        ("crop", crop),
    ] {
        if let Some(v) = value.filter(|v| !v.is_none()) {
            options
                .set(name, option_value(name, v)?)
                .map_err(option_error)?;
        }
    }
    if options.regions_mode.is_some() && regions.is_none() {
        return Err(option_error(LibOptionError::Requires {
            option: MaskOption::RegionsMode,
            needs: MaskOption::Regions,
        }));
    }
    let request = Request {
        original: utf8(original)?,
        masked: utf8(masked)?,
        rates,
        manifest,
        regions: regions.map(utf8).transpose()?,
        mask_token: options.mask_token,
        corrupt: options.corrupt,
        maskable: options.maskable,
        random_pool: options.random_pool,
        regions_mode: options.regions_mode,
        max_length: options.max_length,
        crop: options.crop,
        split: None,
        split_seed: None,
        split_groups: None,
        preset: preset.map(|_| options.preset),
        scan: false,
    };
    let report = py.detach(|| protmask::check::run(&request)).map_err(|e| {
        let line = e.to_string().replace(['\n', '\r'], " ");
        match e.is_usage() {
            true => PyValueError::new_err(line),
            false => VerifyError::new_err(line),
        }
    })?;
    verified_dict(py, &report, request.rates.is_some())
}

/// A path as the command line takes it (text).
fn utf8(path: PathBuf) -> PyResult<String> {
    path.into_os_string()
        .into_string()
        .map_err(|p| PyValueError::new_err(format!("{} is not valid UTF-8", p.to_string_lossy())))
}

/// What `verify` returns: the summary line's numbers, by name.
fn verified_dict<'py>(
    py: Python<'py>,
    report: &Report,
    rates: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let v = &report.verified;
    let d = PyDict::new(py);
    d.set_item("records", v.records)?;
    d.set_item("replicates", v.replicates)?;
    d.set_item("changed", v.changed)?;
    d.set_item("uncertain", v.uncertain)?;
    d.set_item("selected", v.selected)?;
    d.set_item("rows", (rates || report.dataset).then_some(v.rows))?;
    let regenerated = report.regenerated.as_ref();
    d.set_item("identical", regenerated.map(|r| r.identical))?;
    d.set_item("same_content", regenerated.map(|r| r.same_content))?;
    d.set_item("from_metadata", report.metadata.is_some())?;
    Ok(d)
}

/// The same masks in a training loop as on disk: ``Masker`` gives, for the same options,
/// seed, ID, sequence and replicate, exactly what ``protmask mask`` writes.
#[pymodule]
#[pyo3(name = "protmask")]
fn protmask_python(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Masker>()?;
    m.add_class::<Masked>()?;
    m.add("OptionError", m.py().get_type::<OptionError>())?;
    m.add("RecordError", m.py().get_type::<RecordError>())?;
    m.add("VerifyError", m.py().get_type::<VerifyError>())?;
    m.add_function(wrap_pyfunction!(presets, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    // One source of truth: the workspace's version, which is the CLI's.
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
