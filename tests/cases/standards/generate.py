"""Writes the series.csv of each standards case (one reading a minute, local time).

The CSVs are committed; this script documents how they were made and regenerates them:
`python tests/cases/standards/generate.py`. Values are piecewise constant so the expected
verdicts can be computed by hand (see each case's README.md and expected.json).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
JUNIOR_CLASS = [
    ("07:30", "08:00"),
    ("08:00", "08:45"),
    ("08:55", "09:40"),
    ("10:10", "10:55"),
    ("11:05", "11:50"),
    ("14:00", "14:45"),
    ("14:55", "15:40"),
    ("15:50", "16:35"),
]


def hm(t: str) -> int:
    h, m = t.split(":")
    return int(h) * 60 + int(m)


def within(minute: int, spans: list[tuple[str, str]]) -> bool:
    return any(hm(a) <= minute < hm(b) for a, b in spans)


Row = tuple[str, str, float | str, str, str]


def day(
    date: str, first: str, last: str, rows: Callable[[int], list[tuple[str, float, str, str]]]
) -> list[Row]:
    """Rows of each minute in [first, last); `rows(m)` may return none (a silent logger)."""
    base = datetime.fromisoformat(date)
    out: list[Row] = []
    for m in range(hm(first), hm(last)):
        ts = (base + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%S")
        for q, v, point, role in rows(m):
            out.append((ts, q, v, point, role))
    return out


def write(case: str, rows: list[Row], encoding: str = "utf-8", comment: str = "") -> None:
    path = HERE / case / "series.csv"
    path.parent.mkdir(exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as f:
        if comment:
            f.write(f"# {comment}\r\n")
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["ts", "quantity", "value", "point", "role"])
        for ts, q, v, point, role in rows:
            w.writerow([ts, q, f"{v:g}" if isinstance(v, float) else v, point, role])


def main() -> None:
    # 8 lessons of 40 min to 17:10 (the case's timetable.yaml): every lesson averages 990 ppm,
    # the last one as 30 min at 890 and 10 min (17:00-17:10) at 1290
    old = [
        ("08:00", "08:40"),
        ("08:50", "09:30"),
        ("10:00", "10:40"),
        ("10:50", "11:30"),
        ("14:00", "14:40"),
        ("14:50", "15:30"),
        ("15:40", "16:20"),
        ("16:30", "17:10"),
    ]

    def tail(m: int) -> list[tuple[str, float, str, str]]:
        if hm("17:00") <= m < hm("17:10"):
            v = 1290.0
        elif hm("16:30") <= m < hm("17:00"):
            v = 890.0
        else:
            v = 990.0 if within(m, old) else 600.0
        return [("co2", v, "co2", "wall")]

    write("ten_minute_tail", day("2026-11-16", "07:00", "18:00", tail))

    def daily(m: int) -> list[tuple[str, float, str, str]]:
        return [("co2", 1200.0 if within(m, JUNIOR_CLASS) else 420.0, "co2", "wall")]

    write("daily_class_mean_vs_trailing_24h", day("2026-11-16", "00:00", "24:00", daily))

    def closed(m: int) -> list[tuple[str, float, str, str]]:
        return [("illuminance", 0.0, "lux-desk", "desk"), ("co2", 420.0, "co2", "wall")]

    write("holiday", day("2026-10-01", "07:00", "18:00", closed))

    def makeup(m: int) -> list[tuple[str, float, str, str]]:
        return [("co2", 1300.0 if within(m, JUNIOR_CLASS) else 450.0, "co2", "wall")]

    write("make_up_saturday", day("2026-10-10", "07:00", "18:00", makeup))

    def big_break(m: int) -> list[tuple[str, float, str, str]]:
        return [("co2", 2000.0 if hm("09:40") <= m < hm("10:10") else 800.0, "co2", "wall")]

    write("break_at_2000", day("2026-11-16", "07:00", "18:00", big_break))

    def noise(m: int) -> list[tuple[str, float, str, str]]:
        if within(m, JUNIOR_CLASS):
            v = 58.0
        elif hm("07:30") <= m < hm("18:00"):
            v = 70.0  # breaks, 大课间, lunch, after school and the settle time
        else:
            v = 38.0 + m % 3  # the empty room: 38, 39, 40 dB(A)
        return [("noise", v, "noise", "wall")]

    write("noise_breaks_vs_empty", day("2026-11-16", "06:00", "22:00", noise))

    def lux(m: int) -> list[tuple[str, float, str, str]]:
        desk = 280.0 if m == hm("10:30") else 450.0
        return [
            ("illuminance", desk, "lux-desk", "desk"),
            ("illuminance", 150.0, "lux-wall", "wall"),
            ("illuminance", 200.0, "pir-lux", "ceiling"),
        ]

    write("desk_vs_wall_lux", day("2026-11-16", "07:00", "18:00", lux))

    def bound(m: int) -> list[tuple[str, float, str, str]]:
        # names that mislead the name patterns: the binding's role decides
        return [
            ("illuminance", 150.0, "desk-lux-1", "wall"),
            ("illuminance", 450.0, "ws-2", "desk"),
        ]

    write("bound_role_beats_name", day("2026-11-16", "07:00", "18:00", bound))

    def warm(m: int) -> list[tuple[str, float, str, str]]:
        return [("temperature", 27.0, "temperature", "wall"), ("humidity", 65.0, "humidity", "wall")]

    write("shenzhen_november_27c", day("2026-11-17", "07:00", "18:00", warm))

    def tvoc(m: int) -> list[tuple[str, float, str, str]]:
        return [("tvoc", 0.9 if hm("10:10") <= m < hm("10:55") else 0.5, "tvoc", "wall")]

    write("tvoc_8h", day("2026-11-16", "07:00", "18:00", tvoc))

    def pm(m: int) -> list[tuple[str, float, str, str]]:
        return [("pm25", 50.0, "pm25", "wall")]

    write("pm25_exactly_50", day("2026-11-16", "00:00", "24:00", pm))

    def dead(m: int) -> list[tuple[str, float, str, str]]:
        # point A (700 ppm) goes offline at 11:50; B reads 900 ppm, 1300 from 12:00
        out = [("co2", 900.0 if m < hm("12:00") else 1300.0, "co2-b", "wall")]
        if m < hm("11:50"):
            out.insert(0, ("co2", 700.0, "co2-a", "wall"))
        return out

    write("dead_point", day("2026-11-16", "07:00", "18:00", dead))

    def change(m: int) -> list[tuple[str, float, str, str]]:
        # one logger: every minute until noon, then every 5 minutes (12:00, 12:05, …)
        if m >= hm("12:00") and m % 5:
            return []
        return [("co2", 900.0 if m < hm("12:00") else 1200.0, "co2", "wall")]

    write("interval_change", day("2026-11-16", "07:00", "18:00", change))

    def mixed(m: int) -> list[tuple[str, float, str, str]]:
        # a wired desk sensor every minute (250 lx), a wireless one every 5 minutes (380 lx)
        out = [("illuminance", 250.0, "lux-wired", "desk")]
        if m % 5 == 0:
            out.append(("illuminance", 380.0, "lux-wireless", "desk"))
        return out

    write("mixed_intervals", day("2026-11-16", "07:00", "18:00", mixed))

    def logger(m: int) -> list[tuple[str, float, str, str]]:
        # off 14:20-15:10; 1400 ppm 15:10-15:40, else 700
        if hm("14:20") <= m < hm("15:10"):
            return []
        return [("co2", 1400.0 if hm("15:10") <= m < hm("15:40") else 700.0, "co2", "wall")]

    rows = day("2026-11-16", "07:00", "18:00", logger)
    first = [r for r in rows if r[0] < "2026-11-16T15:40"]  # export 1: up to 15:40
    second = [r for r in rows if r[0] >= "2026-11-16T15:10"]  # export 2, overlapping from 15:10
    write("duplicate_exports", first + second)

    def five(m: int) -> list[tuple[str, float, str, str]]:
        if m % 5:
            return []
        return [("co2", 1100.0 if within(m, JUNIOR_CLASS) else 600.0, "co2", "wall")]

    write("five_minute_logger", day("2026-11-16", "07:00", "18:00", five))

    def stuffy(m: int) -> list[tuple[str, float, str, str]]:
        return [("co2", 1500.0 if within(m, JUNIOR_CLASS) else 450.0, "co2", "wall")]

    write("spring_term_2027", day("2027-03-10", "07:00", "18:00", stuffy))
    write("beyond_the_calendar", day("2028-09-06", "07:00", "18:00", stuffy))

    def gbk(m: int) -> list[tuple[str, float, str, str]]:
        return [("co2", 1150.0 if within(m, JUNIOR_CLASS) else 450.0, "co2-front", "wall")]

    def lab(m: int) -> list[tuple[str, float, str, str]]:
        busy = within(m, JUNIOR_CLASS)
        return [
            ("co2", 1250.0 if busy else 450.0, "co2", "wall"),
            ("illuminance", 260.0, "lux-desk", "desk"),
            ("temperature", 26.0, "temperature", "wall"),
            ("humidity", 70.0, "humidity", "wall"),
        ]

    write("science_lab_all_teaching_rules", day("2026-11-16", "07:00", "18:00", lab))

    def music(m: int) -> list[tuple[str, float, str, str]]:
        return [("co2", 1100.0 if within(m, JUNIOR_CLASS) else 450.0, "co2", "wall")]

    write("music_room_added_by_yaml", day("2026-11-16", "07:00", "18:00", music))

    write(
        "excel_gbk_export",
        day("2026-11-18", "07:00", "18:00", gbk),
        encoding="gbk",
        comment="初二(3)班 前墙二氧化碳记录仪 导出，单位 ppm",
    )


if __name__ == "__main__":
    main()
