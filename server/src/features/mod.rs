//! Feature queries as the service answers them: the typed request ([`request`]) and the page of
//! features it finds ([`page`]), which the GeoJSON and HTML encoders read.

pub mod page;
pub mod request;

pub use page::{Page, one};
pub use request::{ITEMS_PARAMETERS, ItemsRequest, Paging};
