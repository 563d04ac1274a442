"""The inventory tables of the local engine are the Glue crawler's: localathena builds them with the
emulator crawler's own model (emulator/crawler_model.py), the Exclusions read from the template.

A sync folder with what a fleet-sim fleet never holds (typed values, a key whose values disagree, an
object outside the partition folders) shows the model's rules in the local tables, and that the
model fed object by object (as emu_crawler feeds it) gives the same columns.
"""

from __future__ import annotations

import json
import pathlib

import crawler_model
import localathena as la

PARTITION = "accountid=111122223333/region=eu-west-1/resourcetype=ManagedInstanceInventory"


def write(root: pathlib.Path, key: str, rows: list[dict]) -> None:
    path = root / "sync" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def columns(con, table: str) -> dict[str, str]:
    return dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                            [la.INVENTORY_SCHEMA, table]).fetchall())


def test_tables_columns_and_types_follow_the_crawler_model(tmp_path: pathlib.Path) -> None:
    write(tmp_path, f"AWS:InstanceInformation/{PARTITION}/i-1.json",
          [{"InstanceId": "i-1", "ResourceType": "EC2Instance", "resourceId": "i-1",
            "captureTime": "2026-11-21T04:12:09Z", "schemaVersion": "1.0"}])
    # The sync's write check: the template's "**/test.json" excludes it, so its key is no column.
    write(tmp_path, "AWS:InstanceInformation/accountid=111122223333/test.json", [{"WriteCheck": "x"}])
    write(tmp_path, f"AWS:Tag/{PARTITION}/i-1.json",
          [{"Key": "Name", "Value": "web", "Count": 3, "Flag": True}, {"Key": "Env", "Value": 1}])
    # Not excluded and outside the partition folders: the crawler reads its keys (no partition).
    write(tmp_path, "AWS:Tag/notes/readme.json", [{"Note": "x"}])
    con = la.connect(tmp_path)

    assert columns(con, "aws_instanceinformation") == {
        "resourceid": "VARCHAR", "capturetime": "VARCHAR", "schemaversion": "VARCHAR", "instanceid": "VARCHAR",
        "accountid": "VARCHAR", "region": "VARCHAR", "resourcetype": "VARCHAR"}
    # bigint and boolean as the JSON classifier types them; "Value" is a string and a number: string.
    assert columns(con, "aws_tag") == {
        "resourceid": "VARCHAR", "capturetime": "VARCHAR", "schemaversion": "VARCHAR", "count": "BIGINT",
        "flag": "BOOLEAN", "key": "VARCHAR", "note": "VARCHAR", "value": "VARCHAR",
        "accountid": "VARCHAR", "region": "VARCHAR", "resourcetype": "VARCHAR"}
    rows = la.fetch(con, "SELECT key, value, count, flag, note, accountid FROM inv.aws_tag ORDER BY key")
    assert rows == [{"key": "Env", "value": "1", "count": None, "flag": None, "note": None,
                     "accountid": "111122223333"},
                    {"key": "Name", "value": "web", "count": 3, "flag": True, "note": None,
                     "accountid": "111122223333"}]

    # The model fed object by object, in key order, as emu_crawler feeds it from S3.
    found = crawler_model.Table()
    folder = tmp_path / "sync" / "AWS:Tag"
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if not crawler_model.excluded(relative, la.sync_exclusions()["AWS:Tag"]):
            found.place(relative)
            for row in crawler_model.json_rows(path.read_bytes()):
                found.add_row(row)
    assert found.columns == {"key": "string", "value": "string", "count": "bigint", "flag": "boolean", "note": "string"}
    assert found.partition_keys == la.PARTITIONS
    assert {c: t for c, t in columns(con, "aws_tag").items() if c in found.columns} == {
        c: la._duckdb_type(t) for c, t in found.columns.items()}
