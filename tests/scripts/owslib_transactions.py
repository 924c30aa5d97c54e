"""OWSLib's OGC API - Features transactions against a running Bando: create, update (PUT, with
the If-Match that Bando requires, which OWSLib sends when given as a header) and delete.

Usage: owslib_transactions.py BASE_URL KEY; prints the id it created, updated and deleted."""
import json
import sys
import urllib.error
import urllib.request

from owslib.ogcapi.features import Features

base, key = sys.argv[1], sys.argv[2]
layer = "heritage_sites"


def etag(fid):
    with urllib.request.urlopen(f"{base}/collections/{layer}/items/{fid}") as r:
        return r.headers["ETag"]


api = Features(base, headers={"x-api-key": key})
feature = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [105.7, 10.0]},
    "properties": {"name": "Miếu OWSLib", "kind": "miếu", "rank": "tourist_spot"},
}
assert api.collection_item_create(layer, feature) is True
found = api.collection_items(layer, name="Miếu OWSLib")["features"]
assert len(found) == 1, found
fid = found[0]["id"]

api.headers["If-Match"] = etag(fid)
feature["properties"]["name"] = "Miếu OWSLib (sửa)"
assert api.collection_item_update(layer, fid, feature) is True
assert api.collection_item(layer, fid)["properties"]["name"] == "Miếu OWSLib (sửa)"

api.headers["If-Match"] = etag(fid)
assert api.collection_item_delete(layer, fid) is True
try:
    urllib.request.urlopen(f"{base}/collections/{layer}/items/{fid}")
    raise SystemExit("the deleted feature is still served")
except urllib.error.HTTPError as e:
    assert e.code == 404, e.code
print(json.dumps({"created_updated_deleted": fid}))
