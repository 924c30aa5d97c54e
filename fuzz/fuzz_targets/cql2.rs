//! CQL2 filters in both encodings, compiled against a layer and run on a feature.
#![no_main]
use geo_types::{Geometry, point};
use layers::{
    Feature, LayerDef, Value,
    filter::{Filter, FilterLang},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(def) = serde_json::from_str::<LayerDef>(
        r#"{"title": "t", "geometry": "Point", "access": "public", "source": {"file": "x"},
            "properties": [{"name": "name", "type": "text", "queryable": true},
                           {"name": "rank", "type": "integer", "queryable": true},
                           {"name": "built", "type": "date", "queryable": true}]}"#,
    ) else {
        return;
    };
    let feature = Feature::new(
        1,
        Geometry::Point(point! { x: 105.7, y: 10.0 }),
        vec![Value::Text("Đình".into()), Value::Int(2), Value::Null],
    );
    for lang in [FilterLang::Text, FilterLang::Json] {
        if let Ok(f) = Filter::parse(s, lang, &def, &|_| true, &|c| Ok(c)) {
            let _ = f.matches(&feature);
        }
    }
});
