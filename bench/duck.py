"""The seed KQL as DuckDB SQL over the same records (only the needed columns).

Usage: duck.py aws|azure PATH UNTIL_ISO  -> prints one JSON row per line (KQL column names).
PATH is a JSON-lines file, or a directory: CloudTrail's S3 delivery layout (`**/*.json.gz`, each
`{"Records":[...]}`) for aws, the Activity Log storage export (`**/PT1H.json`, JSON lines) for
azure. Run as its own process so its peak RSS is measured alone.

The caller is the seed's: AzureActivity's `Caller` (the UPN of a user, the object id of an
application or managed identity), CloudTrail's `userIdentity.arn` (an assumed role's session).
"""
import json
import os
import sys

import duckdb

SEED_AZURE = [
    "microsoft.compute/virtualmachines/write", "microsoft.compute/virtualmachines/delete",
    "microsoft.compute/snapshots/write", "microsoft.compute/snapshots/delete",
    "microsoft.compute/disks/write", "microsoft.compute/disks/delete",
    "microsoft.compute/virtualmachines/deallocate/action", "microsoft.compute/virtualmachines/generalize/action",
    "microsoft.compute/virtualmachines/capture/action", "microsoft.compute/virtualmachines/extensions/write",
    "microsoft.compute/virtualmachinescalesets/write", "microsoft.compute/virtualmachinescalesets/delete",
    "microsoft.compute/restorepointcollections/write",
]
# The AWS rows of the catalog that the generator emits, with their seed types.
AWS_TYPES = {
    "CreateSnapshot": ("CAPTURE", "'snapshot/' || json_extract_string(responseElements, '$.snapshotId')"),
    "DeleteSnapshot": ("DELETE", "'snapshot/' || json_extract_string(requestParameters, '$.snapshotId')"),
    "CreateImage": ("CAPTURE", "'image/' || json_extract_string(responseElements, '$.imageId')"),
    "ModifyInstanceAttribute": ("CREATE_OR_MODIFY", "'instance/' || json_extract_string(requestParameters, '$.instanceId')"),
    "StopInstances": ("DEALLOCATE", "'instance/' || json_extract_string(requestParameters, '$.instancesSet.items[0].instanceId')"),
    "DeleteVolume": ("DELETE", "'volume/' || json_extract_string(requestParameters, '$.volumeId')"),
}
POINTS = "CASE optype WHEN 'DELETE' THEN 3 WHEN 'CAPTURE' THEN 3 WHEN 'GENERALIZE' THEN 3 WHEN 'EXTENSION_CHANGE' THEN 2 WHEN 'CREATE_OR_MODIFY' THEN 1 ELSE 0 END"


def azure_sql(path, until):
    ops = ", ".join(f"'{o}'" for o in SEED_AZURE)
    return f"""
    WITH t AS (
      SELECT CAST(time AS TIMESTAMPTZ) AS ts, operationName AS op, resultType AS st, callerIpAddress AS ip,
             CASE WHEN json_extract_string(identity, '$.claims.idtyp') = 'app'
                  THEN json_extract_string(identity, '$.claims."http://schemas.microsoft.com/identity/claims/objectidentifier"')
                  ELSE json_extract_string(identity, '$.claims."http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"') END AS who,
             resourceId AS rid,
             regexp_extract(resourceId, '(?i)/resourcegroups/([^/]+)', 1) AS scope,
             lower(regexp_extract(resourceId, '(?i)/subscriptions/([^/]+)', 1)) AS acct
      FROM read_ndjson('{source(path, 'PT1H.json')}', columns={{time: 'VARCHAR', operationName: 'VARCHAR', resultType: 'VARCHAR',
           callerIpAddress: 'VARCHAR', identity: 'JSON', resourceId: 'VARCHAR'}})
      WHERE lower(operationName) IN ({ops}) AND lower(resultType) IN ('succeeded', 'started', 'success', 'start')
    ), f AS (
      SELECT *, CASE WHEN regexp_matches(lower(op), '(^|[^a-z0-9])delete($|[^a-z0-9])') THEN 'DELETE'
                     WHEN contains(lower(op), '/write') THEN 'CREATE_OR_MODIFY'
                     WHEN regexp_matches(lower(op), '(^|[^a-z0-9])capture($|[^a-z0-9])') THEN 'CAPTURE'
                     WHEN regexp_matches(lower(op), '(^|[^a-z0-9])generalize($|[^a-z0-9])') THEN 'GENERALIZE'
                     WHEN regexp_matches(lower(op), '(^|[^a-z0-9])deallocate($|[^a-z0-9])') THEN 'DEALLOCATE'
                     ELSE 'OTHER' END AS optype
      FROM t WHERE ts >= TIMESTAMPTZ '{until}' - INTERVAL 1 DAY AND ts <= TIMESTAMPTZ '{until}'
    )"""


AWS_COLUMNS = ("eventTime VARCHAR, eventSource VARCHAR, eventName VARCHAR, awsRegion VARCHAR, sourceIPAddress VARCHAR, "
               "recipientAccountId VARCHAR, errorCode VARCHAR, userIdentity JSON, requestParameters JSON, responseElements JSON")


def source(path, name):
    """A file as it is, a directory as every `name` file under it."""
    return os.path.join(path, "**", name) if os.path.isdir(path) else path


def aws_records(path):
    """CloudTrail records with the needed columns: JSON lines, or the S3 layout's Records arrays."""
    if not os.path.isdir(path):
        cols = ", ".join(f"{c.split()[0]}: '{c.split()[1]}'" for c in AWS_COLUMNS.split(", "))
        return f"read_ndjson('{path}', columns={{{cols}}})"
    return (f"(SELECT unnest(r) FROM (SELECT unnest(Records) AS r FROM read_json('{source(path, '*.json.gz')}', "
            f"format='auto', columns={{Records: 'STRUCT({AWS_COLUMNS})[]'}})))")


def aws_sql(path, until):
    names = ", ".join(f"'{n}'" for n in AWS_TYPES)
    optype = "CASE eventName " + " ".join(f"WHEN '{n}' THEN '{t}'" for n, (t, _) in AWS_TYPES.items()) + " END"
    res = "CASE eventName " + " ".join(f"WHEN '{n}' THEN {r}" for n, (_, r) in AWS_TYPES.items()) + " END"
    return f"""
    WITH t AS (
      SELECT CAST(eventTime AS TIMESTAMPTZ) AS ts, eventName, sourceIPAddress AS ip, awsRegion AS scope, recipientAccountId AS acct,
             json_extract_string(userIdentity, '$.arn') AS who,
             {res} AS rid, {optype} AS optype
      FROM {aws_records(path)}
      WHERE eventSource = 'ec2.amazonaws.com' AND eventName IN ({names}) AND errorCode IS NULL
    ), f AS (SELECT * FROM t WHERE ts >= TIMESTAMPTZ '{until}' - INTERVAL 1 DAY AND ts <= TIMESTAMPTZ '{until}')"""


def main():
    cloud, path, until = sys.argv[1:4]
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET TimeZone = 'UTC'")
    head = azure_sql(path, until) if cloud == "azure" else aws_sql(path, until)
    sql = head + f"""
    SELECT strftime(min(ts), '%Y-%m-%dT%H:%M:%S.%gZ') AS FirstSeen, strftime(max(ts), '%Y-%m-%dT%H:%M:%S.%gZ') AS LastSeen,
           who AS PrincipalName, ip AS CallerIp, scope AS ResourceGroup, acct AS SubscriptionId,
           count(*) AS OperationCount, count(DISTINCT rid) AS UniqueResources, sum({POINTS}) AS TotalRiskScore
    FROM f GROUP BY who, ip, scope, acct
    HAVING sum({POINTS}) >= 3 OR (count(*) >= 5 AND count(DISTINCT rid) >= 3)
    ORDER BY TotalRiskScore DESC, OperationCount DESC"""
    cols = ["FirstSeen", "LastSeen", "PrincipalName", "CallerIp", "ResourceGroup", "SubscriptionId", "OperationCount", "UniqueResources", "TotalRiskScore"]
    for row in con.execute(sql).fetchall():
        print(json.dumps(dict(zip(cols, row))))


if __name__ == "__main__":
    main()
