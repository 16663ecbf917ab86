"""Structural checks of template.yaml that need no SAM CLI: the contract's names, the table shape the
code expects, and the least-privilege and no-plaintext-secret rules."""
from __future__ import annotations

import json
from typing import Any

CONTRACT_ENV = {
    "CONFIG_S3_BUCKET", "CONFIG_S3_KEY", "CONFIG_HOT_RELOAD", "CONFIG_SYNC_INTERVAL",
    "LLMROUTER_MODEL_S3_BUCKET", "LLMROUTER_MODEL_S3_KEY", "GATEWAY_TABLE", "MASTER_KEY_SECRET_ID",
    "LITELLM_LOCAL_MODEL_COST_MAP", "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "HF_HUB_OFFLINE",
    "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL",
}


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_gateway_function_shape(template) -> None:
    glob = template["Globals"]["Function"]
    assert glob["Runtime"] == "python3.12"
    assert glob["Architectures"] == ["arm64"]
    assert glob["Tracing"] == "Active"
    assert glob["MemorySize"] == {"Ref": "MemorySize"} and glob["Timeout"] == {"Ref": "Timeout"}
    env = glob["Environment"]["Variables"]
    assert CONTRACT_ENV <= set(env), CONTRACT_ENV - set(env)
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True" and env["HF_HUB_OFFLINE"] == "1"
    assert env["CONFIG_S3_BUCKET"] == {"Ref": "ConfigBucket"}
    assert env["GATEWAY_TABLE"] == {"Ref": "GatewayTable"}

    fn = template["Resources"]["GatewayFunction"]["Properties"]
    assert fn["CodeUri"] == "functions/gateway/" and fn["Handler"] == "app.handler"
    assert fn["Layers"] == [{"Ref": "DepsLayer"}, {"Ref": "GatewayLayer"}]
    assert fn["FunctionUrlConfig"]["AuthType"] == "NONE" and fn["FunctionUrlConfig"]["Cors"]
    assert fn["AutoPublishAlias"] == "live"
    assert fn["SnapStart"]["Fn::If"][0] == "UseSnapStart"
    assert fn["Events"]["HttpApiDefault"]["Type"] == "HttpApi"


def test_layers_are_makefile_builds(template) -> None:
    layers = _resources(template, "AWS::Serverless::LayerVersion")
    assert {"DepsLayer", "GatewayLayer"} <= set(layers)
    for name, layer in layers.items():
        assert layer["Metadata"]["BuildMethod"] == "makefile", name
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"], name
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"], name


def test_streaming_function_is_optional_and_streams(template) -> None:
    res = template["Resources"]["StreamingFunction"]
    assert res["Condition"] == "CreateStreamingFunction"
    props = res["Properties"]
    assert props["Handler"] == "run.sh"
    assert props["FunctionUrlConfig"]["InvokeMode"] == "RESPONSE_STREAM"
    env = props["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap" and env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert any("LambdaAdapterLayerArm64" in json.dumps(layer) for layer in props["Layers"])
    assert template["Outputs"]["StreamingFunctionUrl"]["Condition"] == "CreateStreamingFunction"
    assert props["Timeout"] == 900  # agent clients hold a stream for minutes


def test_browsers_may_send_the_anthropic_headers(template) -> None:
    """Anthropic's SDK in a browser sends anthropic-version / anthropic-beta: every front allows them."""
    resources = template["Resources"]
    fronts = [resources["GatewayFunction"]["Properties"]["FunctionUrlConfig"]["Cors"]["AllowHeaders"],
              resources["StreamingFunction"]["Properties"]["FunctionUrlConfig"]["Cors"]["AllowHeaders"],
              resources["GatewayHttpApi"]["Properties"]["CorsConfiguration"]["AllowHeaders"]]
    for allowed in fronts:
        assert {"anthropic-version", "anthropic-beta", "x-api-key", "authorization"} <= set(allowed)


def test_table_matches_the_local_stack_definition(template) -> None:
    """The table the code is tested against locally (gateway.dynamo.table, which the dev stack
    creates) is the one AWS gets."""
    from gateway.dynamo import table

    props = template["Resources"]["GatewayTable"]["Properties"]
    for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"):
        assert props[key] == table.TABLE_DEFINITION[key], key
    assert set(table.TABLE_DEFINITION) == {"AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": table.TTL_ATTRIBUTE, "Enabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_bucket_is_private_encrypted_versioned_and_tls_only(template) -> None:
    props = template["Resources"]["ConfigBucket"]["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert all(props["PublicAccessBlockConfiguration"].values()) and len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    statements = template["Resources"]["ConfigBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)


def test_iam_is_least_privilege(template) -> None:
    statements = template["Resources"]["GatewayAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        assert all("*" not in a for a in actions), s  # no wildcard actions
        assert s["Effect"] == "Allow"
    s3_objects = by_sid["ReadConfigAndRouterArtifacts"]
    assert s3_objects["Action"] == "s3:GetObject"
    assert [r["Fn::Sub"] for r in s3_objects["Resource"]] == ["${ConfigBucket.Arn}/config/*", "${ConfigBucket.Arn}/router/*"]
    listing = by_sid["ListConfigAndRouterPrefixes"]
    assert listing["Condition"]["StringLike"]["s3:prefix"] == ["config/*", "router/*"]
    table = by_sid["GatewayTableCrud"]
    assert table["Resource"] == [{"Fn::GetAtt": ["GatewayTable", "Arn"]}, {"Fn::Sub": "${GatewayTable.Arn}/index/*"}]
    assert not any(a in table["Action"] for a in ("dynamodb:DeleteTable", "dynamodb:CreateTable", "dynamodb:UpdateTable"))
    assert sorted(by_sid["InvokeBedrockModels"]["Action"]) == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    assert by_sid["ReadMasterKey"]["Action"] == "secretsmanager:GetSecretValue"
    rules = {r["Id"]: r for r in template["Resources"]["ConfigBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireStoredResponses"]["Prefix"] == "responses/"  # user content does not outlive its item
    assert rules["ExpireStoredResponses"]["ExpirationInDays"] == 31
    assert rules["ExpireStoredResponses"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    stored = by_sid["StoredResponses"]  # large Responses API bodies: their prefix only
    assert sorted(stored["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert stored["Resource"] == {"Fn::Sub": "${ConfigBucket.Arn}/responses/*"}
    assert "Fn::If" in by_sid["ReadMasterKey"]["Resource"]  # that one secret, never "*"
    for name in ("GatewayFunction", "StreamingFunction"):
        assert template["Resources"][name]["Properties"]["Policies"] == [{"Ref": "GatewayAccessPolicy"}]


def test_master_key_is_never_plaintext(template) -> None:
    secret = template["Resources"]["MasterKeySecret"]
    assert secret["Condition"] == "CreateMasterKeySecret"
    assert "SecretString" not in secret["Properties"]
    assert secret["Properties"]["GenerateSecretString"]["GenerateStringKey"] == "master_key"
    assert template["Parameters"]["MasterKeySecretArn"]["Default"] == ""
    text = json.dumps(template)
    assert "LITELLM_MASTER_KEY" not in text and "sk-" not in text


def test_outputs(template) -> None:
    assert {"HttpApiUrl", "FunctionUrl", "StreamingFunctionUrl", "ConfigBucketName", "GatewayTableName",
            "MasterKeySecretArn"} <= set(template["Outputs"])


def test_router_calibration_is_off_by_default_and_writes_router_artifacts_only(template) -> None:
    params, resources = template["Parameters"], template["Resources"]
    assert params["RouterCalibration"]["Default"] == "off"
    writes = resources["RouterCalibrationWritePolicy"]
    assert writes["Condition"] == "AllowRouterCalibrationWrites"
    assert writes["Properties"]["Roles"] == [{"Ref": "GatewayFunctionRole"}]  # not the streaming function
    [statement] = writes["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["s3:DeleteObject", "s3:PutObject"]
    assert statement["Resource"] == {"Fn::Sub": "${ConfigBucket.Arn}/router/*"}
    function = resources["RouterCalibrationFunction"]
    assert function["Condition"] == "ScheduleRouterCalibration"
    assert function["Properties"]["Events"]["Calibrate"]["Type"] == "Schedule"
    [policy] = function["Properties"]["Policies"]
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert sorted(by_sid["ReadSpendLogs"]["Action"]) == ["dynamodb:GetItem", "dynamodb:Query"]  # reads, never writes
    assert by_sid["PublishCalibratedRouterArtifacts"]["Resource"] == {"Fn::Sub": "${ConfigBucket.Arn}/router/*"}
    for s in policy["Statement"]:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        assert all("*" not in a for a in actions)
