#!/usr/bin/python3
"""Build countries.geojson (offline base map for the console) from DCW-GMT.

Source: Debian package gmt-dcw (/usr/share/gmt-dcw/dcw-gmt.nc), read with
python3-netcdf4. Needs:  apt-get install gmt-dcw python3-netcdf4 python3-numpy
Run:     /usr/bin/python3 make-basemap.py [--tolerance 0.01] [--far-tolerance 0.05]
         [--min-area 0.005] [--out countries.geojson]
(use Debian's /usr/bin/python3: python3-netcdf4 is installed for it.)

What it does: takes every country of DCW-GMT whose bounding box meets the
window WINDOW (Europe, Ukraine and all its neighbours, the EU, plus the
surrounding countries of North Africa, the Middle East and Central Asia),
decodes its polygons (outer rings and holes), simplifies each ring with
Douglas-Peucker at --tolerance degrees inside the CORE window (Europe with
Ukraine and western Russia) and at --far-tolerance outside it, drops rings that collapse or whose
area is below --min-area square degrees, rounds coordinates to 3 decimals and
writes one GeoJSON Feature per country with properties name (English, as in
dcw-countries.txt), iso (ISO 3166-1 alpha-2) and continent (DCW's code).

DCW-GMT encoding (as GMT's gmt_dcw.c reads it): per country CC two uint16
variables CC_lon / CC_lat with attributes min/max; a value v stands for
min + v * (max - min) / 65535; CC_lon == 65535 starts a new ring, and the
CC_lat value beside it is 0 for an outer ring and 1 for a hole in the
previous outer ring.
"""
import argparse
import json
import sys

import netCDF4
import numpy as np

DCW_DIR = "/usr/share/gmt-dcw"
WINDOW = (-32.0, 30.0, 60.0, 72.0)  # lon_min, lat_min, lon_max, lat_max
# inside CORE points are kept at --tolerance, outside it at --far-tolerance
CORE = (-25.0, 34.0, 45.0, 72.0)


def read_countries(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cont, code, name = line.rstrip("\n").split(" ", 2)
            out.append((cont, code, name))
    return out


def decode(ds, code):
    vx, vy = ds.variables[code + "_lon"], ds.variables[code + "_lat"]
    x = vx[:].astype(np.int64)
    y = vy[:].astype(np.int64)
    xs = (float(vx.max) - float(vx.min)) / 65535.0
    ys = (float(vy.max) - float(vy.min)) / 65535.0
    x0 = float(vx.min)
    # western-hemisphere countries are stored with longitudes in 180..360
    if x0 >= 180.0:
        x0 -= 360.0
    sep = np.where(x == 65535)[0]
    rings = []  # (is_hole, Nx2 array)
    bounds = list(sep) + [len(x)]
    for i in range(len(sep)):
        a, b = bounds[i] + 1, bounds[i + 1]
        if b - a < 3:
            continue
        lon = x0 + x[a:b] * xs
        lat = float(vy.min) + y[a:b] * ys
        rings.append((y[bounds[i]] == 1, np.column_stack([lon, lat])))
    return rings, (x0, float(vy.min), x0 + float(vx.max) - float(vx.min), float(vy.max))


def dp(pts, tol):
    """Douglas-Peucker on an open or closed polyline (iterative); tol is one
    tolerance per point (a point is kept when it lies farther than its own
    tolerance from the chord)."""
    n = len(pts)
    if n < 3:
        return pts
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    # closed ring: split at the point farthest from the first one
    if np.allclose(pts[0], pts[-1]):
        far = int(np.argmax(((pts - pts[0]) ** 2).sum(axis=1)))
        keep[far] = True
        stack = [(0, far), (far, n - 1)]
    else:
        stack = [(0, n - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        p, q = pts[a], pts[b]
        seg = pts[a + 1:b]
        d = q - p
        L2 = float(d @ d)
        if L2 == 0.0:
            dist = np.sqrt(((seg - p) ** 2).sum(axis=1))
        else:
            dist = np.abs(d[0] * (seg[:, 1] - p[1]) - d[1] * (seg[:, 0] - p[0])) / np.sqrt(L2)
        excess = dist - tol[a + 1:b]
        i = int(np.argmax(excess))
        if excess[i] > 0:
            k = a + 1 + i
            keep[k] = True
            stack.append((a, k))
            stack.append((k, b))
    return pts[keep]


def area(r):
    x, y = r[:, 0], r[:, 1]
    return 0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def ring_out(r, tol, ndigits, min_area, hole, far_tol=None):
    if not np.allclose(r[0], r[-1]):
        r = np.vstack([r, r[:1]])
    c = CORE
    inside = (r[:, 0] >= c[0]) & (r[:, 0] <= c[2]) & (r[:, 1] >= c[1]) & (r[:, 1] <= c[3])
    s = dp(r, np.where(inside, tol, tol if far_tol is None else far_tol))
    s = np.round(s, ndigits)
    # drop consecutive duplicates made by rounding
    keep = np.ones(len(s), dtype=bool)
    keep[1:] = np.any(s[1:] != s[:-1], axis=1)
    s = s[keep]
    if len(s) < 4 or abs(area(s)) < min_area:
        return None
    # RFC 7946: outer rings counter-clockwise, holes clockwise
    a = area(s)
    if (a < 0) != hole:
        s = s[::-1]
    return [[round(float(px), ndigits), round(float(py), ndigits)] for px, py in s]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dcw", default=DCW_DIR)
    ap.add_argument("--tolerance", type=float, default=0.01)
    ap.add_argument("--far-tolerance", type=float, default=0.05,
                    help="Douglas-Peucker tolerance outside CORE, in degrees")
    ap.add_argument("--min-area", type=float, default=0.005,
                    help="drop rings smaller than this, in square degrees")
    ap.add_argument("--digits", type=int, default=3)
    ap.add_argument("--out", default="countries.geojson")
    args = ap.parse_args()

    ds = netCDF4.Dataset(args.dcw + "/dcw-gmt.nc")
    ds.set_auto_maskandscale(False)
    feats = []
    w = WINDOW
    for cont, code, name in read_countries(args.dcw + "/dcw-countries.txt"):
        if code + "_lon" not in ds.variables:
            continue
        rings, bb = decode(ds, code)
        if bb[2] < w[0] or bb[0] > w[2] or bb[3] < w[1] or bb[1] > w[3]:
            continue
        polys = []
        for hole, r in rings:
            o = ring_out(r, args.tolerance, args.digits, args.min_area, hole,
                         args.far_tolerance)
            if o is None:
                continue
            if hole and polys:
                polys[-1].append(o)
            elif not hole:
                polys.append([o])
        if not polys:
            # a microstate (Vatican, Gibraltar...) that the simplification
            # would erase: keep its largest outer ring, rounded only
            outers = [r for hole, r in rings if not hole]
            big = max(outers, key=lambda r: abs(area(r)))
            o = ring_out(big, 0.0, args.digits, 0.0, False)
            if o is None:
                continue
            polys = [[o]]
        geom = ({"type": "Polygon", "coordinates": polys[0]} if len(polys) == 1
                else {"type": "MultiPolygon", "coordinates": polys})
        feats.append({"type": "Feature",
                      "properties": {"name": name, "iso": code, "continent": cont},
                      "geometry": geom})
    fc = {"type": "FeatureCollection",
          "source": "DCW-GMT %s (Debian package gmt-dcw), simplified %.3g deg (%.3g deg outside lon %g..%g lat %g..%g)" % (
              getattr(ds, "version", "?"), args.tolerance, args.far_tolerance, CORE[0], CORE[2], CORE[1], CORE[3]),
          "features": feats}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(fc, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    npts = sum(len(r) for ft in feats for p in (ft["geometry"]["coordinates"] if ft["geometry"]["type"] == "MultiPolygon" else [ft["geometry"]["coordinates"]]) for r in p)
    print("%d countries, %d points -> %s" % (len(feats), npts, args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
