//! The Python module `protmask`: `Masker` and `Masked`, a thin layer over the library.
//!
//! Options go keyword by keyword through `MaskOptions::set` and `MaskConfig::resolve`
//! (the library's one definition of the options, the command line's checks and
//! messages), records through `online::RecordMasker` (the record layer's checks, the
//! masker, the dataset's encoders), so Python gets exactly what `protmask mask` writes.
//! A new masking option of the library is a new keyword here with no change to this file.
//! Results are built cheaply: one str and numpy arrays per record, no Python int per
//! position. `mask_many` and `collate` mask on the rayon pool with the GIL released;
//! `collate`'s padding is the library's `collate::pad`. `read_fasta` is the record layer's
//! `records::read`, `Masker.from_manifest` the library's `check::recorded_options`.
//! `verify` is `protmask verify` (the library's `check::run`), its failures the CLI's one
//! line.
//!
//! Everything initialised lazily is initialised when the module is imported: numpy's C
//! API (rust-numpy loads it on the first array otherwise, behind a lock that a process
//! forked meanwhile would wait on forever, and as a Python import that Ctrl-C or a missing
//! numpy turned into a panic), and the library's tables when a `Masker` is made
//! (`mask::Masker::prepare`), both while the interpreter lock is held, which `os.fork`
//! needs too: no lock can be held by a thread a forked child does not have.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use std::collections::BTreeMap;
use std::path::PathBuf;

use numpy::ndarray::Array2;
use numpy::{PyArray1, PyArray2};
use protmask::check::{Report, Request};
use protmask::collate::Padded;
use protmask::config::{
    MaskConfig, MaskOption, MaskOptions, OptionError as LibOptionError, OptionValue, check_count,
};
use protmask::mask::Marks;
use protmask::online::{MaskedRecord, RecordMasker};
use protmask::records::RecordStream;
use protmask::regions::RegionsSource;
use pyo3::exceptions::{
    PyFileNotFoundError, PyImportError, PyOSError, PyStopIteration, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyMapping, PyString, PyTuple, PyType};

/// The process that imported the module: a process with another pid was forked from it.
static IMPORTED_BY: AtomicU32 = AtomicU32::new(0);

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
/// the preset's. Integers may be of any integer type (numpy's included). ``threads``
/// (keyword only) sets the worker threads of ``mask_many`` and ``collate`` (default: all
/// cores, but 1 in a forked child, a multiprocessing child or a DataLoader worker). A bad
/// value raises ``OptionError`` (a ``ValueError``) with the CLI's message; an unknown
/// keyword or a value of the wrong type, ``TypeError``.
#[pyclass(frozen, module = "protmask")]
struct Masker {
    inner: RecordMasker,
    config: MaskConfig,
    /// `mask_many`'s own pool, never rayon's global one, and made by the process that
    /// uses it: a child forked by multiprocessing (DataLoader workers, `datasets.map`
    /// with `num_proc`) inherits a pool whose threads it does not have, and would wait on
    /// it forever, so a new process (another pid) builds its own.
    pool: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>>,
    /// How to make this Masker again, for pickling (`datasets.map` hashes and ships the
    /// function that holds a Masker; `num_proc` and DataLoader workers copy it).
    made: Made,
    threads: Option<u32>,
}

/// What a `Masker` was made from.
enum Made {
    /// The keywords given.
    Keywords(Py<PyDict>),
    /// Resolved options (`from_manifest`), as JSON.
    Options(String),
}

/// One masked record: what ``protmask mask --dataset`` writes for it.
#[pyclass(frozen, get_all, module = "protmask")]
struct Masked {
    /// The record's ID, as given.
    id: Option<Py<PyString>>,
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
                        crop_start = None, id = None))]
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
        id: Option<Py<PyString>>,
    ) -> Self {
        Masked {
            id,
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
            m.id.as_ref().map(|a| a.clone_ref(py)),
        )
            .into_pyobject(py)?;
        Ok((slf.get_type().into_any(), args))
    }

    /// Equal when every field is: the same record masked the same way. ``t`` and ``rate``
    /// compare as floats, the arrays element by element.
    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let Ok(other) = other.cast::<Masked>() else {
            return Ok(py.NotImplemented());
        };
        let o = other.get();
        let same_scalars = self.t == o.t
            && self.rate == o.rate
            && self.count == o.count
            && self.length == o.length
            && self.crop_start == o.crop_start
            && PyAnyMethods::eq(self.masked.bind(py).as_any(), o.masked.bind(py))?
            && match (&self.id, &o.id) {
                (Some(a), Some(b)) => PyAnyMethods::eq(a.bind(py).as_any(), b.bind(py))?,
                (a, b) => a.is_none() && b.is_none(),
            };
        if !same_scalars {
            return Ok(false.into_pyobject(py)?.to_owned().into_any().unbind());
        }
        let array_equal = py.import("numpy")?.getattr("array_equal")?;
        let arrays_equal =
            |a: Option<&Py<PyArray1<i32>>>, b: Option<&Py<PyArray1<i32>>>| match (a, b) {
                (Some(a), Some(b)) => array_equal.call1((a, b))?.is_truthy(),
                (a, b) => Ok(a.is_none() && b.is_none()),
            };
        let equal = arrays_equal(Some(&self.positions), Some(&o.positions))?
            && arrays_equal(self.input_ids.as_ref(), o.input_ids.as_ref())?
            && arrays_equal(self.labels.as_ref(), o.labels.as_ref())?;
        Ok(equal.into_pyobject(py)?.to_owned().into_any().unbind())
    }

    /// The ID, L, the count, t, and the masked sequence cut to 40 characters.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        const SHOWN: usize = 40;
        let masked = self.masked.bind(py).to_cow()?;
        let shown = match masked.char_indices().nth(SHOWN) {
            Some((cut, _)) => format!("{}...", PyString::new(py, &masked[..cut]).repr()?),
            None => self.masked.bind(py).repr()?.to_string(),
        };
        let id = match &self.id {
            Some(id) => format!("id={}, ", id.bind(py).repr()?),
            None => String::new(),
        };
        Ok(format!(
            "Masked({id}length={}, count={}, t={}, masked={shown})",
            self.length, self.count, self.t
        ))
    }
}

fn to_python(py: Python<'_>, id: Option<Py<PyString>>, r: MaskedRecord) -> Masked {
    let masked = std::str::from_utf8(&r.masked).expect("residues and tokens are ASCII");
    let (input_ids, labels) = match r.tokens {
        Some((ids, labels)) => (
            Some(PyArray1::from_slice(py, &ids).unbind()),
            Some(PyArray1::from_slice(py, &labels).unbind()),
        ),
        None => (None, None),
    };
    Masked {
        id,
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

/// A padded batch as numpy int64 arrays (rows × width), without a copy.
fn padded_arrays<'py>(py: Python<'py>, p: Padded) -> PyResult<Bound<'py, PyDict>> {
    let shape = (p.rows, p.width);
    let array = |v: Vec<i64>| -> PyResult<Bound<'py, PyArray2<i64>>> {
        let a = Array2::from_shape_vec(shape, v)
            .map_err(|e| PyValueError::new_err(format!("internal error: {e}")))?;
        Ok(PyArray2::from_owned_array(py, a))
    };
    let d = PyDict::new(py);
    d.set_item("input_ids", array(p.input_ids)?)?;
    d.set_item("attention_mask", array(p.attention_mask)?)?;
    d.set_item("labels", array(p.labels)?)?;
    Ok(d)
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
        threads: Option<&Bound<'_, PyAny>>,
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
        let threads = threads_of(threads)?;
        Masker::of_config(config, Made::Keywords(given.unbind()), threads)
    }

    /// A Masker with the options a published set was made with: ``path`` is its
    /// manifest (``protmask mask --manifest``), or a Parquet dataset (a file, or a dataset
    /// folder) whose metadata records them. Its masks are the set's: record i of the set,
    /// masked with its replicate, is its row. A regions file the manifest records by path
    /// is found as ``protmask regenerate`` finds it. Raises ``VerifyError`` for a file that
    /// records no options or cannot be read.
    #[classmethod]
    #[pyo3(signature = (path, *, threads = None))]
    fn from_manifest(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        path: PathBuf,
        threads: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let threads = threads_of(threads)?;
        let mut config = py
            .detach(|| protmask::check::recorded_options(&path))
            .map_err(|e| VerifyError::new_err(e.to_string().replace(['\n', '\r'], " ")))?;
        // Where the regions file was found is where a copy of this Masker reads it.
        if let Some(r) = config.regions.as_mut()
            && let Some(found) = r.found_at.take()
        {
            r.source = RegionsSource::Path(found);
        }
        let json = serde_json_string(&config);
        Masker::of_config(config, Made::Options(json), threads)
    }

    /// Unpickling a Masker made by ``from_manifest``: its resolved options as JSON.
    #[staticmethod]
    #[pyo3(signature = (options, threads = None))]
    fn _from_options(options: String, threads: Option<u32>) -> PyResult<Self> {
        let config: MaskConfig = serde_json::from_str(&options)
            .map_err(|e| PyValueError::new_err(format!("not a Masker's options: {e}")))?;
        Masker::of_config(config, Made::Options(options), threads)
    }

    /// Mask one record, as ``protmask mask`` masks it: ``replicate`` counts from 1, as
    /// ``--replicates`` numbers them; or give ``epoch``, counted from 0 (replicate =
    /// epoch + 1). Raises ``RecordError`` naming the ID for a bad ID or residue, and
    /// ``ValueError`` with stratified timesteps (one record has no order to stratify
    /// over: use ``mask_many``).
    #[pyo3(signature = (id, sequence, replicate = None, *, epoch = None))]
    fn mask(
        &self,
        py: Python<'_>,
        id: &Bound<'_, PyString>,
        sequence: &str,
        replicate: Option<&Bound<'_, PyAny>>,
        epoch: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Masked> {
        let replicate = replicate_of(replicate, epoch)?;
        if self.inner.stratified() {
            return Err(PyValueError::new_err(
                "stratified timesteps spread over a batch in order: one record has none; \
                 use mask_many on the whole batch, or timesteps=\"iid\"",
            ));
        }
        let r = self
            .inner
            .mask(
                &id.to_cow()?,
                sequence.as_bytes(),
                replicate,
                0,
                &mut Marks::default(),
            )
            .map_err(|e| {
                // One record alone has no number: the error names the ID given.
                let message = match e.id {
                    Some(id) => format!("record {id}: {}", e.kind),
                    None => e.kind.to_string(),
                };
                RecordError::new_err(message)
            })?;
        Ok(to_python(py, Some(id.clone().unbind()), r))
    }

    /// Mask a batch in parallel, without holding the GIL: a list of ``Masked`` in order.
    /// Record i is the i-th record of one input, so with stratified timesteps a batch
    /// holding a whole file in order equals ``protmask mask`` on that file. ``replicate``
    /// (from 1) or ``epoch`` (from 0) as in ``mask``. Raises ``RecordError`` naming the
    /// first bad record (1-based number in the batch, and ID).
    #[pyo3(signature = (ids, sequences, replicate = None, *, epoch = None))]
    fn mask_many(
        &self,
        py: Python<'_>,
        ids: Vec<PyBackedStr>,
        sequences: Vec<PyBackedStr>,
        replicate: Option<&Bound<'_, PyAny>>,
        epoch: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Masked>> {
        let replicate = replicate_of(replicate, epoch)?;
        let pool = self.pool(py)?;
        let results = py
            .detach(|| pool.install(|| self.inner.mask_batch(&ids, &sequences, replicate)))
            .map_err(record_error)?;
        // Ctrl-C during the batch: KeyboardInterrupt now, before the results are built.
        py.check_signals()?;
        results
            .into_iter()
            .zip(&ids)
            .map(|(r, id)| {
                let id = id.into_pyobject(py)?.cast_into::<PyString>()?.unbind();
                Ok(to_python(py, Some(id), r))
            })
            .collect()
    }

    /// A batch for a masked language model: a dict of int64 numpy arrays (rows × width)
    /// ``input_ids``, ``attention_mask`` and ``labels``, row i the ``input_ids`` and
    /// ``labels`` that ``mask_many`` gives record i (those of ``protmask mask --dataset
    /// --tokens``), right-padded to the longest row (rounded up to a multiple of
    /// ``pad_to_multiple_of``) with the pad id (ESM ``<pad>`` 1, EvoDiff ``!`` 30),
    /// attention 0 and label -100. Needs ``tokens``. ``max_length`` crops a longer record
    /// to a window of that many residues as ``--max-length`` does (with the Masker's
    /// ``crop``, else random): rows are at most ``max_length + 2`` tokens. Computed in
    /// Rust without the GIL. ``return_tensors="pt"``: torch tensors (needs torch).
    #[pyo3(signature = (ids, sequences, replicate = None, epoch = None, max_length = None,
                        pad_to_multiple_of = None, return_tensors = "np"))]
    #[allow(clippy::too_many_arguments)] // the keywords of a collator
    fn collate<'py>(
        &self,
        py: Python<'py>,
        ids: Vec<PyBackedStr>,
        sequences: Vec<PyBackedStr>,
        replicate: Option<&Bound<'py, PyAny>>,
        epoch: Option<&Bound<'py, PyAny>>,
        max_length: Option<&Bound<'py, PyAny>>,
        pad_to_multiple_of: Option<&Bound<'py, PyAny>>,
        return_tensors: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let replicate = replicate_of(replicate, epoch)?;
        if self.inner.tokens().is_none() {
            return Err(OptionError::new_err(
                "collate makes token ids: make the Masker with tokens=\"esm\" or \
                 tokens=\"evodiff\"",
            ));
        }
        let torch = match return_tensors {
            "np" => None,
            "pt" => Some(py.import("torch").map_err(|e| {
                let err = PyImportError::new_err(
                    "return_tensors=\"pt\" needs torch (pip install torch); \
                     return_tensors=\"np\" gives numpy arrays",
                );
                err.set_cause(py, Some(e));
                err
            })?),
            other => {
                return Err(OptionError::new_err(format!(
                    "invalid value '{other}' for 'return_tensors' [possible values: np, pt]"
                )));
            }
        };
        let cropped;
        let masker = match max_length.filter(|v| !v.is_none()) {
            None => &self.inner,
            Some(v) => {
                let mut o = MaskOptions::default();
                o.set("max_length", option_value("max_length", v)?)
                    .map_err(option_error)?;
                let n = o.max_length.expect("set above");
                cropped = self.inner.cropped(n);
                &cropped
            }
        };
        let multiple = match pad_to_multiple_of.filter(|v| !v.is_none()) {
            None => None,
            Some(v) => Some(count_of("pad_to_multiple_of", v, 1)? as usize),
        };
        let pool = self.pool(py)?;
        let padded = py
            .detach(|| pool.install(|| masker.collate(&ids, &sequences, replicate, multiple)))
            .map_err(record_error)?;
        py.check_signals()?;
        let batch = padded_arrays(py, padded)?;
        if let Some(torch) = torch {
            let from_numpy = torch.getattr("from_numpy")?;
            for key in ["input_ids", "attention_mask", "labels"] {
                let array = batch.get_item(key)?.expect("set by padded_arrays");
                batch.set_item(key, from_numpy.call1((array,))?)?;
            }
        }
        Ok(batch)
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
        match &me.made {
            Made::Keywords(given) => {
                let kwargs = given.bind(py).copy()?;
                kwargs.set_item("threads", me.threads)?;
                let partial = py.import("functools")?.getattr("partial")?;
                let make = partial.call((slf.get_type(),), Some(&kwargs))?;
                Ok((make, PyTuple::empty(py)))
            }
            Made::Options(json) => Ok((
                slf.get_type().getattr("_from_options")?,
                (json.as_str(), me.threads).into_pyobject(py)?,
            )),
        }
    }

    fn __repr__(&self) -> String {
        format!("protmask.Masker({})", serde_json_string(&self.config))
    }
}

/// An int of any integer type (``int``, numpy's, anything with ``__index__``) as its
/// decimal digits; a bool is refused (``True`` is no count).
fn int_text(name: &str, v: &Bound<'_, PyAny>) -> PyResult<String> {
    if v.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{name} takes an int, not a bool"
        )));
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(v.str()?.to_string());
    }
    if v.hasattr("__index__")? && !v.is_instance_of::<PyFloat>() {
        let index = v.py().import("operator")?.getattr("index")?;
        if let Ok(i) = index.call1((v,)) {
            return Ok(i.str()?.to_string());
        }
    }
    Err(PyTypeError::new_err(format!(
        "{name} takes an int, not {}",
        v.get_type().name()?
    )))
}

/// A count of at least `min`, refused as the command line refuses `--threads 0`.
fn count_of(name: &str, v: &Bound<'_, PyAny>, min: u32) -> PyResult<u32> {
    let text = int_text(name, v)?;
    check_count(&text, min)
        .map_err(|e| OptionError::new_err(format!("invalid value '{text}' for '{name}': {e}")))
}

/// `threads=`: at least 1, the `--threads` flag's message.
fn threads_of(v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u32>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let text = int_text("threads", v)?;
    check_count(&text, 1).map(Some).map_err(|e| {
        OptionError::new_err(format!("invalid value '{text}' for '--threads <N>': {e}"))
    })
}

/// The replicate a call names: `replicate` (from 1, as `--replicates` numbers them) or
/// `epoch` (from 0, as samplers count: replicate = epoch + 1), default replicate 1.
fn replicate_of(
    replicate: Option<&Bound<'_, PyAny>>,
    epoch: Option<&Bound<'_, PyAny>>,
) -> PyResult<u32> {
    let replicate = replicate.filter(|v| !v.is_none());
    let epoch = epoch.filter(|v| !v.is_none());
    match (replicate, epoch) {
        (Some(_), Some(_)) => Err(OptionError::new_err(
            "give replicate= (counted from 1) or epoch= (counted from 0), not both",
        )),
        (None, None) => Ok(1),
        (Some(r), None) => {
            let text = int_text("replicate", r)?;
            check_count(&text, 1).map_err(|e| {
                OptionError::new_err(format!(
                    "invalid value '{text}' for 'replicate': {e} (replicates count from 1, \
                     as --replicates numbers them; epoch= counts from 0)"
                ))
            })
        }
        (None, Some(e)) => {
            let text = int_text("epoch", e)?;
            check_count(&text, 0)
                .ok()
                .and_then(|e| e.checked_add(1))
                .ok_or_else(|| {
                    OptionError::new_err(format!(
                        "invalid value '{text}' for 'epoch': {text} is not in 0..={}",
                        u32::MAX - 1
                    ))
                })
        }
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
    let ty = v.get_type();
    if ty.module()?.to_cow()? == "numpy" && matches!(&*ty.name()?.to_cow()?, "bool" | "bool_") {
        return Ok(OptionValue::Bool(v.is_truthy()?));
    }
    if v.is_instance_of::<PyInt>() || (v.hasattr("__index__")? && !v.is_instance_of::<PyFloat>()) {
        return Ok(OptionValue::Int(int_text(name, v)?));
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
    fn of_config(config: MaskConfig, made: Made, threads: Option<u32>) -> PyResult<Self> {
        Ok(Masker {
            inner: RecordMasker::new(&config).map_err(option_error)?,
            config,
            pool: Mutex::new(None),
            made,
            threads,
        })
    }

    /// This process's pool for `mask_many` and `collate`, built on first use.
    fn pool(&self, py: Python<'_>) -> PyResult<Arc<rayon::ThreadPool>> {
        let pid = std::process::id();
        let mut slot = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((owner, pool)) = slot.as_ref()
            && *owner == pid
        {
            return Ok(pool.clone());
        }
        let threads = match self.threads {
            Some(n) => Some(n as usize),
            None => worker_process(py)?.then_some(1),
        };
        let mut builder = rayon::ThreadPoolBuilder::new();
        if let Some(n) = threads {
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

/// Whether this process is one of several doing the same work, where a pool of all cores
/// each would oversubscribe the machine: a process forked after the import (its pid is
/// not the importer's: DataLoader workers, `datasets.map(num_proc=...)`, any fork), a
/// child of `multiprocessing` (or of its fork `multiprocess`) however started, or a
/// PyTorch DataLoader worker (`torch.utils.data.get_worker_info()`, asked only when the
/// program has imported torch.utils.data).
fn worker_process(py: Python<'_>) -> PyResult<bool> {
    if std::process::id() != IMPORTED_BY.load(Ordering::Relaxed) {
        return Ok(true);
    }
    let modules = py.import("sys")?.getattr("modules")?;
    for name in ["multiprocessing", "multiprocess"] {
        if let Some(m) = modules.get_item(name).ok().filter(|m| !m.is_none())
            && let Ok(parent) = m.call_method0("parent_process")
            && !parent.is_none()
        {
            return Ok(true);
        }
    }
    if let Some(data) = modules
        .get_item("torch.utils.data")
        .ok()
        .filter(|m| !m.is_none())
        && let Ok(info) = data.call_method0("get_worker_info")
        && !info.is_none()
    {
        return Ok(true);
    }
    Ok(false)
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

/// The records of a FASTA input, one at a time: ``(id, description, sequence)``.
#[pyclass(frozen, module = "protmask")]
struct FastaReader {
    /// `None` once the input ended or failed.
    stream: Mutex<Option<RecordStream<Box<dyn std::io::Read + Send>>>>,
}

#[pymethods]
impl FastaReader {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<(String, String, String)> {
        let next = py.detach(|| {
            let mut slot = self.stream.lock().unwrap_or_else(|e| e.into_inner());
            let Some(stream) = slot.as_mut() else {
                return Ok(None);
            };
            let next = stream.next_record();
            if !matches!(next, Ok(Some(_))) {
                *slot = None;
            }
            next
        });
        match next {
            Ok(Some(r)) => Ok((
                r.id.clone(),
                String::from_utf8_lossy(r.description()).into_owned(),
                // The record layer let through letters, '*', '-' and '.' only.
                String::from_utf8_lossy(&r.seq).into_owned(),
            )),
            Ok(None) => Err(PyStopIteration::new_err(())),
            // A record the CLI refuses, or an input that cannot be read to its end (a
            // truncated gzip file): the CLI's one line, naming the file and the record.
            Err(e) => Err(RecordError::new_err(
                e.to_string().replace(['\n', '\r'], " "),
            )),
        }
    }
}

/// The records of a FASTA file as ``protmask mask`` reads them, one at a time, as
/// ``(id, description, sequence)`` tuples (the ID is the header's first word, the
/// description the rest, the sequence unwrapped). ``path``: a path, or ``"-"`` for
/// standard input; gzip (BGZF), bzip2, xz and zstd are told from the content. A block of
/// records is held at a time, read without the GIL. A record the CLI refuses raises
/// ``RecordError`` with the CLI's message (the file, the record's number and ID); a file
/// that cannot be opened, ``FileNotFoundError`` or ``OSError``.
#[pyfunction]
fn read_fasta(py: Python<'_>, path: PathBuf) -> PyResult<FastaReader> {
    let name = utf8(path)?;
    let stream = py.detach(|| protmask::records::read(&name)).map_err(|e| {
        let line = e.to_string();
        match e.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(line),
            _ => PyOSError::new_err(line),
        }
    })?;
    Ok(FastaReader {
        stream: Mutex::new(Some(stream)),
    })
}

/// Load numpy's C API now, with every lazily initialised piece of rust-numpy this module
/// uses (the API capsule, the dtypes, the array type holding a Rust vector): see the
/// module docs for why. No numpy is an ImportError that says how to get it.
fn load_numpy(py: Python<'_>) -> PyResult<()> {
    if let Err(e) = py.import("numpy") {
        if !e.is_instance_of::<PyImportError>(py) {
            return Err(e);
        }
        let err = PyImportError::new_err(format!(
            "protmask needs numpy (pip install numpy; numpy>=1.21): {}",
            e.value(py)
        ));
        err.set_cause(py, Some(e));
        return Err(err);
    }
    let warm = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> PyResult<()> {
        drop(PyArray1::<i32>::from_slice(py, &[0]));
        let empty = Padded {
            rows: 1,
            width: 1,
            input_ids: vec![0],
            attention_mask: vec![0],
            labels: vec![0],
        };
        drop(padded_arrays(py, empty)?);
        Ok(())
    }));
    match warm {
        Ok(r) => r,
        Err(_) => Err(PyImportError::new_err(
            "protmask cannot use this numpy's C API (see the message above); \
             pip install --upgrade numpy",
        )),
    }
}

/// The same masks in a training loop as on disk: ``Masker`` gives, for the same options,
/// seed, ID, sequence and replicate, exactly what ``protmask mask`` writes.
#[pymodule]
#[pyo3(name = "protmask")]
fn protmask_python(m: &Bound<'_, PyModule>) -> PyResult<()> {
    load_numpy(m.py())?;
    IMPORTED_BY.store(std::process::id(), Ordering::Relaxed);
    m.add_class::<Masker>()?;
    m.add_class::<FastaReader>()?;
    m.add_function(wrap_pyfunction!(read_fasta, m)?)?;
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
