//! The one error type of the `layers` crate.

use std::path::PathBuf;

/// Everything that can go wrong in the catalog, the stores, the index and imports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A layer definition breaks a rule that the type system cannot express.
    #[error("layer `{layer}`: field `{field}`: {message}")]
    InvalidLayer {
        /// The layer's id as written in the configuration.
        layer: String,
        /// The offending field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The file does not exist or cannot be read.
    #[error("{}: no such file", path.display())]
    MissingFile {
        /// The path given.
        path: PathBuf,
    },
    /// GDAL could not open the file as any vector format it knows, or it is broken.
    #[error("{}: {reason}", path.display())]
    UnreadableSource {
        /// The path given.
        path: PathBuf,
        /// GDAL's explanation, or ours.
        reason: String,
    },
    /// The source holds several layers and none was chosen, or the one chosen is not there.
    #[error("{}: {reason}; its layers: {}; choose one with --source-layer", path.display(), layers.join(", "))]
    SourceLayer {
        /// The path given.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// The names of the layers the source holds.
        layers: Vec<String>,
    },
    /// The source has no geometry column.
    #[error("{}: the source has no geometry column", path.display())]
    NoGeometry {
        /// The path given.
        path: PathBuf,
    },
    /// The source's coordinate reference system could not be determined or is not supported.
    #[error("{}: {reason}", path.display())]
    UnknownCrs {
        /// The path given.
        path: PathBuf,
        /// What is unknown about it.
        reason: String,
    },
    /// A value in the source cannot be stored in the layer's column of that name.
    #[error("{}: row {row}: field `{field}`: {value:?} is not a valid {expected}", path.display())]
    BadValue {
        /// The path given.
        path: PathBuf,
        /// 1-based feature number in the source.
        row: u64,
        /// The field name.
        field: String,
        /// The value as the source has it.
        value: String,
        /// The type of the target column.
        expected: String,
    },
    /// A text field holds bytes that are not UTF-8 and that no legacy Vietnamese encoding, or
    /// more than one, reads as Vietnamese.
    #[error(
        "{}: field `{field}` holds text that is not UTF-8 (e.g. {example:?}) and reads as Vietnamese in {}; \
         pass --text-encoding utf8|tcvn3|vni|cp1258",
        path.display(),
        if candidates.is_empty() { "none of TCVN3, VNI and Windows-1258".to_owned() } else { format!("each of {}", candidates.join(", ")) }
    )]
    UndecidedText {
        /// The path given.
        path: PathBuf,
        /// The field.
        field: String,
        /// One value, as written (bytes that are not UTF-8 replaced).
        example: String,
        /// The encodings that read it equally well.
        candidates: Vec<String>,
    },
    /// The target table refused more rows of an import than it may reject one by one.
    #[error(
        "the table refused more than {limit} rows (the last: {last}); check the file and the target layer, \
         or import with --strict to stop at the first"
    )]
    Refused {
        /// How many refusals are tolerated.
        limit: u64,
        /// The last row refused, with its reason.
        last: String,
    },
    /// GDAL failed while reading a source that opened.
    #[error("{}: {source}", path.display())]
    Gdal {
        /// The path given.
        path: PathBuf,
        /// GDAL's error.
        #[source]
        source: gdal::errors::GdalError,
    },
    /// A geometry could not be decoded from WKB.
    #[error("layer `{layer}`: feature {id}: undecodable geometry: {reason}")]
    Geometry {
        /// The layer being loaded.
        layer: String,
        /// The feature id.
        id: i64,
        /// The decoder's message.
        reason: String,
    },
    /// No layer with this id exists.
    #[error("no layer `{0}`")]
    LayerNotFound(String),
    /// A database operation failed.
    #[error("{context}: {source}")]
    Db {
        /// What was being done.
        context: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A SensorThings query option is malformed or names what the model does not have.
    #[error("{0}")]
    BadQuery(String),
    /// A member of a SensorThings entity is missing or wrong: `pointer` (RFC 6901) names it.
    #[error("{detail}")]
    BadEntity {
        /// The JSON pointer to the member.
        pointer: String,
        /// What is wrong with it.
        detail: String,
    },
    /// No such SensorThings entity.
    #[error("{0}")]
    NoEntity(String),
    /// The caller's role may not make this change.
    #[error("{0}")]
    NotAllowed(String),
    /// A request holds more than is accepted at once.
    #[error("{0}")]
    TooMany(String),
    /// Writing a download file failed.
    #[error("{0}")]
    Export(String),
    /// Applying the schema migrations failed.
    #[error("applying migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Error {
    /// True when the error is the caller's input (a file, a flag, a config value), not the
    /// system: the CLI exits with status 2 for these.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::InvalidLayer { .. }
                | Self::MissingFile { .. }
                | Self::UnreadableSource { .. }
                | Self::NoGeometry { .. }
                | Self::SourceLayer { .. }
                | Self::Refused { .. }
                | Self::UnknownCrs { .. }
                | Self::BadValue { .. }
                | Self::UndecidedText { .. }
                | Self::Gdal { .. }
                | Self::LayerNotFound(_)
        )
    }

    /// What the database said when it refused a value or a row (a constraint, a type, a range:
    /// SQLSTATE classes 22 and 23), the caller's fault rather than the system's.
    pub fn refused_by_table(&self) -> Option<String> {
        let Self::Db { source: sqlx::Error::Database(e), .. } = self else { return None };
        let code = e.code()?;
        (code.starts_with("22") || code.starts_with("23")).then(|| e.message().to_owned())
    }

    /// Wraps a database error with what was being done.
    pub fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Self {
        let context = context.into();
        move |source| Self::Db { context, source }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
