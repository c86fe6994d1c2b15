"""The JSON-RPC client against recorded HTTP answers (no node needed)."""

import json
import uuid
from decimal import Decimal

import pytest
import requests
import responses

from transient.core.errors import NodeAuthError, NodeBusy, NodeError, NodeUnreachable, RPCError
from transient_backends.rpc import RPCClient, encode

URL = "http://127.0.0.1:18332"
PASSWORD = "s3cret-pa55"


def reply(result=None, error=None, id=1):
    return {"result": result, "error": error, "id": id}


def echo_ids(results):
    """A callback answering a batch with ``results`` in request order, matching ids."""

    def callback(request):
        calls = json.loads(request.body)
        body = [dict(r, id=c["id"]) for c, r in zip(calls, results)]
        return 200, {}, json.dumps(body)

    return callback


@pytest.fixture
def client():
    return RPCClient(URL, "user", PASSWORD)


@responses.activate
def test_call_sends_json_rpc_1_0_and_returns_result(client):
    responses.post(URL, json=reply(812))
    assert client.call("getblockcount") == 812
    sent = json.loads(responses.calls[0].request.body)
    assert sent["method"] == "getblockcount" and sent["params"] == [] and sent["jsonrpc"] == "1.0"
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_batch_returns_results_in_call_order_even_if_node_reorders(client):
    def callback(request):
        calls = json.loads(request.body)
        return 200, {}, json.dumps([reply(c["method"], id=c["id"]) for c in reversed(calls)])

    responses.add_callback("POST", URL, callback=callback)
    assert client.batch([("a", []), ("b", [1]), ("c", [])]) == ["a", "b", "c"]
    assert len(responses.calls) == 1


@responses.activate
def test_batch_raises_the_error_or_returns_it_in_place(client):
    error = {"code": -5, "message": "Block not found"}
    responses.add_callback("POST", URL, callback=echo_ids([reply(1), reply(error=error)]))
    with pytest.raises(RPCError) as exc:
        client.batch([("getblockcount", []), ("getblockheader", ["00"])])
    assert exc.value.rpc_code == -5
    results = client.batch([("getblockcount", []), ("getblockheader", ["00"])], return_errors=True)
    assert results[0] == 1 and isinstance(results[1], RPCError) and results[1].method == "getblockheader"


def test_empty_batch_sends_nothing(client):
    assert client.batch([]) == []


@responses.activate
def test_amounts_parse_exactly_to_the_last_unit(client):
    # 10^10 DOGE minus one koinu: 18 significant digits, more than a float holds.
    body = '{"result": {"amount": 9999999999.99999999, "small": 0.00000001}, "error": null, "id": 1}'
    responses.post(URL, body=body)
    result = client.call("gettransaction", "ab")
    assert result["amount"] == Decimal("9999999999.99999999")
    assert result["small"] == Decimal("0.00000001")


def test_decimal_params_are_sent_as_exact_numbers():
    assert (
        encode([Decimal("9999999999.99999999"), Decimal("1E+2"), {"a": Decimal("0.1")}])
        == '[9999999999.99999999,100,{"a":0.1}]'
    )
    with pytest.raises(TypeError):
        encode([0.1])


@responses.activate
def test_decimal_param_reaches_the_node_unrounded(client):
    responses.post(URL, json=reply("txid"))
    client.call("sendtoaddress", "addr", Decimal("12345678901.23456789"))
    assert b"12345678901.23456789]" in responses.calls[0].request.body


@responses.activate
def test_rpc_error_object_is_typed(client):
    responses.post(URL, status=500, json=reply(error={"code": -32601, "message": "Method not found"}))
    with pytest.raises(RPCError) as exc:
        client.call("nosuchmethod")
    assert exc.value.rpc_code == -32601 and exc.value.method == "nosuchmethod"


@responses.activate
@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_raise_auth_error_without_the_password(client, status):
    responses.post(URL, status=status, body="")
    with pytest.raises(NodeAuthError) as exc:
        client.call("getblockcount")
    assert PASSWORD not in str(exc.value)


@responses.activate
def test_bitcoin_core_full_work_queue_is_busy(client):
    responses.post(URL, status=503, body="Work queue depth exceeded")
    with pytest.raises(NodeBusy):
        client.call("getblockcount")


@responses.activate
def test_litecoin_core_full_work_queue_http_500_is_busy(client):
    responses.post(URL, status=500, body="Work queue depth exceeded")
    with pytest.raises(NodeBusy):
        client.call("getblockcount")


@responses.activate
def test_non_json_answer_is_a_node_error(client):
    responses.post(URL, status=500, body="<html>proxy error</html>")
    with pytest.raises(NodeError) as exc:
        client.call("getblockcount")
    assert type(exc.value) is NodeError and "HTTP 500" in str(exc.value)


@responses.activate
@pytest.mark.parametrize("error", [requests.ConnectionError("Connection refused"), requests.ConnectTimeout()])
def test_unreachable_node(error):
    responses.post(URL, body=error)
    client = RPCClient("http://user:%s@127.0.0.1:18332" % PASSWORD)
    with pytest.raises(NodeUnreachable) as exc:
        client.call("getblockcount")
    assert PASSWORD not in str(exc.value) and client.url == URL


def test_refused_connection_for_real():
    client = RPCClient("http://127.0.0.1:1", "user", PASSWORD, timeout=2)
    with pytest.raises(NodeUnreachable, match="refused"):
        client.call("getblockcount")


@responses.activate
def test_wallet_calls_go_to_the_wallet_path():
    responses.post(URL + "/wallet/shop%20one", json=reply("addr"))
    client = RPCClient(URL + "/", "user", PASSWORD, wallet="shop one")
    assert client.call("getnewaddress") == "addr"


@responses.activate
def test_cookie_is_read_again_after_a_401(tmp_path):
    cookie = tmp_path / ".cookie"
    cookie.write_text("__cookie__:old")
    client = RPCClient(URL, cookie_file=str(cookie))
    responses.post(URL, json=reply(1))
    client.call("getblockcount")
    # The node restarts and writes a new cookie: the old one gets a 401 once.
    cookie.write_text("__cookie__:new")
    responses.replace(responses.POST, URL, status=401, body="")
    responses.add(responses.POST, URL, json=reply(2))
    assert client.call("getblockcount") == 2
    auths = [c.request.headers["Authorization"] for c in responses.calls]
    assert auths[0] == auths[1] != auths[2]


@responses.activate
def test_missing_cookie_file_is_an_auth_error(tmp_path):
    client = RPCClient(URL, cookie_file=str(tmp_path / "nope"))
    with pytest.raises(NodeAuthError, match="cookie"):
        client.call("getblockcount")


def test_each_thread_gets_its_own_session():
    import threading

    client = RPCClient(URL, "user", PASSWORD)
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(client._get_session())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in seen}) == 3
    client.close()


def test_a_cookie_hidden_by_systemd_s_protecthome_says_so(monkeypatch):
    client = RPCClient(URL, cookie_file="/home/dogecoin/.dogecoin/.cookie-%s" % uuid.uuid4().hex)
    with pytest.raises(NodeAuthError) as exc:
        client.call("getblockchaininfo")
    assert "ProtectHome" not in exc.value.message  # not under systemd: only the reason
    monkeypatch.setenv("INVOCATION_ID", "0123456789abcdef")
    with pytest.raises(NodeAuthError) as exc:
        client.call("getblockchaininfo")
    assert exc.value.message.endswith("ProtectHome=yes hides /home and /root: see deploy/transientd.service)")
