//! The SensorThings API 1.1 data model (OGC 18-088 §8.2): each entity set, the properties it
//! stores and the navigation properties that join it to the others, described once as data so
//! that reads, filters and writes of every set follow the same description.

/// One of the entity sets of the sensing profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntitySet {
    /// Stations.
    Things,
    /// Where stations are.
    Locations,
    /// Where stations were, and when.
    HistoricalLocations,
    /// Instruments.
    Sensors,
    /// What is measured (COD, pH…).
    ObservedProperties,
    /// One parameter of one station, with its unit.
    Datastreams,
    /// Readings.
    Observations,
    /// What a reading is of.
    FeaturesOfInterest,
}

/// How a stored property is typed, read and written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string column.
    Text,
    /// Any JSON value (a jsonb column).
    Json,
    /// A JSON object (a jsonb column): `properties`, `parameters`, `unitOfMeasurement`.
    Object,
    /// GeoJSON kept as sent (a jsonb column) with a derived `geom` column for filters.
    GeoJson,
    /// An instant, or null (a timestamptz column).
    Instant,
    /// An instant or a `start/end` interval: columns `<column>` and `<column>_end`.
    InstantOrInterval,
    /// A `start/end` interval: columns `<column>_start` and `<column>_end`.
    Interval,
    /// Read only, computed by this SQL (`{a}` stands for the entity's alias).
    Derived(&'static str),
}

/// A property of an entity set.
#[derive(Clone, Copy, Debug)]
pub struct Property {
    /// Its name in JSON.
    pub name: &'static str,
    /// Its column (or column stem, see [`Kind`]).
    pub column: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Whether a new entity must have it.
    pub required: bool,
}

/// How a navigation property is stored.
#[derive(Clone, Copy, Debug)]
pub enum Link {
    /// To one: a foreign key column on this set's table.
    Column(&'static str),
    /// To many: a foreign key column on the target's table.
    Reverse(&'static str),
    /// To many, through a link table: its name, the column naming this set, the column naming the target.
    Table(&'static str, &'static str, &'static str),
}

/// A navigation property.
#[derive(Clone, Copy, Debug)]
pub struct Nav {
    /// Its name in JSON and URLs.
    pub name: &'static str,
    /// The set it leads to.
    pub target: EntitySet,
    /// How it is stored.
    pub link: Link,
}

impl Nav {
    /// Whether it leads to one entity.
    pub fn to_one(&self) -> bool {
        matches!(self.link, Link::Column(_))
    }
}

const fn p(name: &'static str, column: &'static str, kind: Kind, required: bool) -> Property {
    Property { name, column, kind, required }
}

const fn n(name: &'static str, target: EntitySet, link: Link) -> Nav {
    Nav { name, target, link }
}

use EntitySet as E;
use Kind as K;

const NAME: Property = p("name", "name", K::Text, true);
const DESCRIPTION: Property = p("description", "description", K::Text, true);
const ENCODING: Property = p("encodingType", "encoding_type", K::Text, true);
const PROPERTIES: Property = p("properties", "properties", K::Object, false);

impl EntitySet {
    /// Every set, in the order the service root lists them.
    pub const ALL: [Self; 8] = [
        E::Things,
        E::Locations,
        E::HistoricalLocations,
        E::Sensors,
        E::ObservedProperties,
        E::Datastreams,
        E::Observations,
        E::FeaturesOfInterest,
    ];

    /// Its name in URLs.
    pub fn name(self) -> &'static str {
        match self {
            E::Things => "Things",
            E::Locations => "Locations",
            E::HistoricalLocations => "HistoricalLocations",
            E::Sensors => "Sensors",
            E::ObservedProperties => "ObservedProperties",
            E::Datastreams => "Datastreams",
            E::Observations => "Observations",
            E::FeaturesOfInterest => "FeaturesOfInterest",
        }
    }

    /// The set of this URL name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Its table.
    pub fn table(self) -> &'static str {
        match self {
            E::Things => "sta.things",
            E::Locations => "sta.locations",
            E::HistoricalLocations => "sta.historical_locations",
            E::Sensors => "sta.sensors",
            E::ObservedProperties => "sta.observed_properties",
            E::Datastreams => "sta.datastreams",
            E::Observations => "sta.observations",
            E::FeaturesOfInterest => "sta.features_of_interest",
        }
    }

    /// Its stored and derived properties.
    pub fn properties(self) -> &'static [Property] {
        match self {
            E::Things => {
                const P: &[Property] = &[NAME, DESCRIPTION, PROPERTIES];
                P
            }
            E::Locations => {
                const P: &[Property] =
                    &[NAME, DESCRIPTION, ENCODING, p("location", "location", K::GeoJson, true), PROPERTIES];
                P
            }
            E::HistoricalLocations => {
                const P: &[Property] = &[p("time", "time", K::Instant, true)];
                P
            }
            E::Sensors => {
                const P: &[Property] =
                    &[NAME, DESCRIPTION, ENCODING, p("metadata", "metadata", K::Json, true), PROPERTIES];
                P
            }
            E::ObservedProperties => {
                const P: &[Property] = &[NAME, p("definition", "definition", K::Text, true), DESCRIPTION, PROPERTIES];
                P
            }
            E::Datastreams => {
                const P: &[Property] = &[
                    NAME,
                    DESCRIPTION,
                    p("unitOfMeasurement", "unit_of_measurement", K::Object, true),
                    p("observationType", "observation_type", K::Text, true),
                    p("observedArea", "observed_area", K::Json, false),
                    // From the observations' primary key: the first and the latest phenomenon time.
                    p(
                        "phenomenonTime",
                        "",
                        K::Derived(
                            "(SELECT sta.iso_span(min(o.phenomenon_time), max(o.phenomenon_time)) \
                         FROM sta.observations o WHERE o.datastream_id = {a}.id)",
                        ),
                        false,
                    ),
                    PROPERTIES,
                ];
                P
            }
            E::Observations => {
                const P: &[Property] = &[
                    p("phenomenonTime", "phenomenon_time", K::InstantOrInterval, false),
                    p("resultTime", "result_time", K::Instant, false),
                    p("result", "result", K::Json, true),
                    p("resultQuality", "result_quality", K::Json, false),
                    p("validTime", "valid_time", K::Interval, false),
                    p("parameters", "parameters", K::Object, false),
                ];
                P
            }
            E::FeaturesOfInterest => {
                const P: &[Property] =
                    &[NAME, DESCRIPTION, ENCODING, p("feature", "feature", K::GeoJson, true), PROPERTIES];
                P
            }
        }
    }

    /// Its navigation properties.
    pub fn navs(self) -> &'static [Nav] {
        const THING_LOCATIONS: &str = "sta.thing_locations";
        const HL_LOCATIONS: &str = "sta.historical_location_locations";
        match self {
            E::Things => {
                const P: &[Nav] = &[
                    n("Locations", E::Locations, Link::Table(THING_LOCATIONS, "thing_id", "location_id")),
                    n("HistoricalLocations", E::HistoricalLocations, Link::Reverse("thing_id")),
                    n("Datastreams", E::Datastreams, Link::Reverse("thing_id")),
                ];
                P
            }
            E::Locations => {
                const P: &[Nav] = &[
                    n("Things", E::Things, Link::Table(THING_LOCATIONS, "location_id", "thing_id")),
                    n(
                        "HistoricalLocations",
                        E::HistoricalLocations,
                        Link::Table(HL_LOCATIONS, "location_id", "historical_location_id"),
                    ),
                ];
                P
            }
            E::HistoricalLocations => {
                const P: &[Nav] = &[
                    n("Thing", E::Things, Link::Column("thing_id")),
                    n("Locations", E::Locations, Link::Table(HL_LOCATIONS, "historical_location_id", "location_id")),
                ];
                P
            }
            E::Sensors => {
                const P: &[Nav] = &[n("Datastreams", E::Datastreams, Link::Reverse("sensor_id"))];
                P
            }
            E::ObservedProperties => {
                const P: &[Nav] = &[n("Datastreams", E::Datastreams, Link::Reverse("observed_property_id"))];
                P
            }
            E::Datastreams => {
                const P: &[Nav] = &[
                    n("Thing", E::Things, Link::Column("thing_id")),
                    n("Sensor", E::Sensors, Link::Column("sensor_id")),
                    n("ObservedProperty", E::ObservedProperties, Link::Column("observed_property_id")),
                    n("Observations", E::Observations, Link::Reverse("datastream_id")),
                ];
                P
            }
            E::Observations => {
                const P: &[Nav] = &[
                    n("Datastream", E::Datastreams, Link::Column("datastream_id")),
                    n("FeatureOfInterest", E::FeaturesOfInterest, Link::Column("feature_id")),
                ];
                P
            }
            E::FeaturesOfInterest => {
                const P: &[Nav] = &[n("Observations", E::Observations, Link::Reverse("feature_id"))];
                P
            }
        }
    }

    /// The property of this name.
    pub fn property(self, name: &str) -> Option<&'static Property> {
        self.properties().iter().find(|p| p.name == name)
    }

    /// The navigation property of this name.
    pub fn nav(self, name: &str) -> Option<&'static Nav> {
        self.navs().iter().find(|n| n.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_navigation_has_its_inverse_in_the_target_set() {
        for set in EntitySet::ALL {
            for nav in set.navs() {
                let back = nav.target.navs().iter().any(|b| b.target == set);
                assert!(back, "{}/{} has no way back", set.name(), nav.name);
            }
        }
    }

    #[test]
    fn sets_are_found_by_their_url_names_only() {
        for set in EntitySet::ALL {
            assert_eq!(EntitySet::parse(set.name()), Some(set));
        }
        assert_eq!(EntitySet::parse("things"), None);
        assert_eq!(EntitySet::parse("Thing"), None);
    }
}
