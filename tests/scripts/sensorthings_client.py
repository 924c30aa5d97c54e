"""A SensorThings client (frost-sta-client, the client of the reference server FROST) against
Bando: it creates a station with its Location, a Sensor, an ObservedProperty and a Datastream,
posts readings (one by one, and a batch through the data array extension), and reads them back with $filter, $orderby, $expand, $count and paging.

Usage: frost_sta_client.py BASE_URL KEY. Prints one JSON object of what it read; the Rust test
compares it with the database.
"""
import json
import sys

import frost_sta_client as fsc
import geojson
from frost_sta_client.model.ext.unitofmeasurement import UnitOfMeasurement
from frost_sta_client.service.auth_handler import AuthHandler

base, key = sys.argv[1], sys.argv[2]
service = fsc.SensorThingsService(f"{base}/sta/v1.1", auth_handler=AuthHandler(username="operator", password=key))

location = fsc.Location(
    name="Cống xả KCN Trà Nóc 1",
    description="Điểm xả nước thải sau xử lý, Bình Thủy, Cần Thơ",
    encoding_type="application/geo+json",
    location=geojson.Point((105.7302, 10.0971)),
)
thing = fsc.Thing(
    name="Trạm quan trắc tự động KCN Trà Nóc 1",
    description="Trạm quan trắc nước thải tự động",
    properties={"class": "B", "kq": 0.9, "kf": 1.0},
    locations=[location],
)
service.create(thing)

sensor = fsc.Sensor(name="COD analyser", description="UV-Vis probe", encoding_type="text/html",
                    metadata="https://example.invalid/cod-probe")
service.create(sensor)
prop = fsc.ObservedProperty(name="COD", definition="http://vocab.nerc.ac.uk/collection/P01/current/COD/",
                            description="Nhu cầu oxy hóa học")
service.create(prop)
datastream = fsc.Datastream(
    name="COD KCN Trà Nóc 1",
    description="COD của nước thải sau xử lý",
    observation_type="http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
    unit_of_measurement=UnitOfMeasurement(name="milligram per litre", symbol="mg/L",
                                          definition="http://qudt.org/vocab/unit/MilliGM-PER-L"),
    thing=thing,
    sensor=sensor,
    observed_property=prop,
)
service.create(datastream)

values = [88.0, 92.5, 101.25, 97.0, 110.5, 95.75, 120.0]
for i, v in enumerate(values):
    obs = fsc.Observation(result=v, phenomenon_time=f"2026-03-01T0{i}:00:00+07:00", datastream=datastream)
    service.create(obs)

# Three more through the data array extension (CreateObservations), as the client batches them.
batch = fsc.DataArrayValue()
batch.datastream = datastream
batch.components = {fsc.DataArrayValue.Property.PHENOMENON_TIME, fsc.DataArrayValue.Property.RESULT}
for i, v in enumerate([105.0, 99.0, 131.5]):
    batch.add_observation(fsc.Observation(result=v, phenomenon_time=f"2026-03-01T1{i}:00:00+07:00",
                                          datastream=datastream))
document = fsc.DataArrayDocument()
document.add_data_array_value(batch)
batch_links = [o.self_link for o in service.observations().create(document)]

# Over 100 mg/L, newest first, in pages of two (the client follows @iot.nextLink).
over = (service.observations().query()
        .filter(f"Datastream/@iot.id eq {datastream.id} and result gt 100")
        .orderby("phenomenonTime", "desc").top(2).list())
over_results = [o.result for o in over]
# Every reading of the datastream, oldest first, with the count.
everything = (service.observations().query().filter(f"Datastream/@iot.id eq {datastream.id}").count()
              .orderby("phenomenonTime", "asc").top(3).list())
all_results = [o.result for o in everything]
# A Thing with its Datastreams and Locations expanded.
things = service.things().query().filter(f"id eq {thing.id}").expand("Datastreams,Locations").list()
expanded = [t for t in things][0]
print(json.dumps({
    "thing": thing.id,
    "datastream": datastream.id,
    "over": over_results,
    "all": all_results,
    "count": everything.count,
    "batch_links": batch_links,
    "expanded_datastreams": [d.name for d in expanded.datastreams],
    "expanded_location": expanded.locations.entities[0].location["coordinates"],
}))
