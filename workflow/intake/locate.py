"""Placing an outside report in a grid from its coordinates: inside a grid's boundary wins, else the grid of
the nearest point within a distance, else nobody's (refused: the district cannot act on it)."""

import math

from sqlalchemy import select

from models import Grid, Point
from models.base import db
from workflow.errors import Invalid, OutsideArea
from workflow.geo import haversine_m

# A degree of latitude is ~111 km: the box that surely holds every point within `max_m`.
METRES_PER_DEGREE = 111_000


def check_boundary(boundary: dict | None) -> dict | None:
    """A GeoJSON Polygon or MultiPolygon with closed rings of [lng, lat] pairs, else 422."""
    if boundary is None:
        return None
    kind, coordinates = boundary.get("type"), boundary.get("coordinates")
    polygons = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else None
    if not isinstance(polygons, list) or not polygons or not all(_polygon_ok(p) for p in polygons):
        raise Invalid("boundary must be a GeoJSON Polygon or MultiPolygon of closed [lng, lat] rings",
                      errors={"boundary": ["a GeoJSON Polygon or MultiPolygon with closed rings of [lng, lat]"]})
    return {"type": kind, "coordinates": coordinates}


def _polygon_ok(polygon) -> bool:
    return isinstance(polygon, list) and bool(polygon) and all(_ring_ok(ring) for ring in polygon)


def _ring_ok(ring) -> bool:
    if not isinstance(ring, list) or len(ring) < 4 or len(ring) > 10_000 or ring[0] != ring[-1]:
        return False
    return all(isinstance(pair, list) and len(pair) == 2 and _lng_lat(*pair) for pair in ring)


def _lng_lat(lng, lat) -> bool:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (lng, lat))
    return numbers and -180 <= lng <= 180 and -90 <= lat <= 90


def inside(boundary: dict, lat: float, lng: float) -> bool:
    """Whether (lat, lng) lies in a Polygon or MultiPolygon (even-odd rule: holes are outside)."""
    polygons = [boundary["coordinates"]] if boundary["type"] == "Polygon" else boundary["coordinates"]
    return any(sum(_in_ring(ring, lng, lat) for ring in polygon) % 2 == 1 for polygon in polygons)


def _in_ring(ring: list, x: float, y: float) -> bool:
    hit = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def grid_at(*, lat: float, lng: float, max_m: float) -> tuple[Grid, Point | None]:
    """The grid a report at (lat, lng) belongs to, and the point it was placed by (None: by a boundary); retired
    grids and points place nothing."""
    bounded = db.session.scalars(select(Grid).where(Grid.boundary.is_not(None), Grid.active.is_(True))
                                 .order_by(Grid.id))
    for grid in bounded:
        if inside(grid.boundary, lat, lng):
            return grid, None
    point = nearest_point(lat=lat, lng=lng, max_m=max_m)
    if point is None:
        raise OutsideArea(f"({lat}, {lng}) lies in no grid and no point is within {max_m:g} m",
                          errors={"lat": ["outside every grid of the district"],
                                  "lng": ["outside every grid of the district"]})
    return point.grid, point


def _active_points():
    return select(Point).join(Grid, Grid.id == Point.grid_id).where(Point.active.is_(True), Grid.active.is_(True))


def nearest_point(*, lat: float, lng: float, max_m: float) -> Point | None:
    """The nearest point within `max_m` metres (an index-friendly box first, then exact distances)."""
    dlat = max_m / METRES_PER_DEGREE
    dlng = dlat / max(math.cos(math.radians(lat)), 0.01)
    stmt = _active_points().where(Point.lat.between(lat - dlat, lat + dlat), Point.lng.between(lng - dlng, lng + dlng))
    best = min(((haversine_m(lat, lng, p.lat, p.lng), p.id, p) for p in db.session.scalars(stmt)),
               default=None, key=lambda t: t[:2])
    return best[2] if best is not None and best[0] <= max_m else None


def point_by_address(address: str) -> Point | None:
    """The one point whose address or name is exactly `address` (trimmed, case-insensitive), or None."""
    wanted = address.strip().lower()
    stmt = _active_points().where((db.func.lower(Point.address) == wanted) | (db.func.lower(Point.name) == wanted))
    found = list(db.session.scalars(stmt.limit(2)))
    return found[0] if len(found) == 1 else None
