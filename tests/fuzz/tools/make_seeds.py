#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses (run from anywhere; idempotent)."""
import base64
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")


def put(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def post(body, sid=None, extra="", version=None, keep=True):
    h = "POST /mcp HTTP/1.1\r\nHost: localhost:8808\r\nContent-Type: application/json\r\n"
    h += "Accept: application/json, text/event-stream\r\n"
    if sid:
        h += f"Mcp-Session-Id: {sid}\r\n"
    if version:
        h += f"MCP-Protocol-Version: {version}\r\n"
    if not keep:
        h += "Connection: close\r\n"
    h += extra
    return h + f"Content-Length: {len(body.encode())}\r\n\r\n" + body


def rpc(method, params=None, id=1):
    p = f',"params":{params}' if params is not None else ""
    return f'{{"jsonrpc":"2.0","id":{id},"method":"{method}"{p}}}'


def tool(name, args, id=1):
    return rpc("tools/call", f'{{"name":"{name}","arguments":{args}}}', id)


def get(sid, last=None, extra=""):
    h = f"GET /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\nMcp-Session-Id: {sid}\r\n"
    if last is not None:
        h += f"Last-Event-ID: {last}\r\n"
    return h + extra + "\r\n"


def delete(sid):
    return f"DELETE /mcp HTTP/1.1\r\nHost: localhost\r\nMcp-Session-Id: {sid}\r\n\r\n"


# The 2026-07-28 (modern, stateless) envelope: per-request _meta and the mirrored headers.
V26 = "2026-07-28"
META = ('"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
        '"io.modelcontextprotocol/clientInfo":{"name":"seed","version":"1"},'
        '"io.modelcontextprotocol/clientCapabilities":{}}')


def b64name(name):
    return "=?base64?" + base64.b64encode(name.encode()).decode() + "?="


def modern(method, extra="", name=None, id=1, version=V26, headers=None, keep=True):
    """A modern request: params {extra _meta}; Mcp-Method, and Mcp-Name when name is given."""
    body = f'{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{{{extra}{META}}}}}'
    h = headers if headers is not None else f"Mcp-Method: {method}\r\n" + (f"Mcp-Name: {name}\r\n" if name else "")
    return post(body, extra=h, version=version, keep=keep)


def mtool(name, args, id=1, mname=None):
    return modern("tools/call", f'"name":"{name}","arguments":{args},', mname or name, id)


INIT = rpc("initialize", '{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"seed","version":"1"}}')


def http_mcp():
    H = "http_mcp"
    f = lambda flags, seed=7: bytes([flags, seed])
    put("fuzz_http_mcp", "initialize", f(0) + post(INIT).encode())
    put("fuzz_http_mcp", "init-then-newest", f(1) + (post(INIT) + post(rpc("tools/list"), "@N@")).encode())
    put("fuzz_http_mcp", "pipelined-tools", f(2) + (post(rpc("ping"), "@S0@") + post(rpc("tools/list", id=2), "@S0@")
        + post(tool("get_status", "{}", 3), "@S0@") + post(rpc("resources/read", '{"uri":"mcp-chat://guide"}', 4), "@S0@")
        + post(rpc("prompts/get", '{"name":"chat_with_stranger"}', 5), "@S0@")).encode())
    put("fuzz_http_mcp", "match-and-message", f(0) + (
        post(tool("enter_queue", '{"display_name":"a","interests":["x"]}'), "@S0@") + "@C@"
        + post(tool("enter_queue", '{"display_name":"b","interests":["x"]}'), "@S1@") + "@C@"
        + post(tool("send_message", '{"room_id":"@R0@","message":"hi"}'), "@S0@") + "@C@"
        + post(tool("wait_for_message", '{"timeout_s":0}'), "@S1@")).encode())
    put("fuzz_http_mcp", "stream-then-events", f(0) + (
        get("@S2@") + "@C@" + post(tool("join_room", '{"room_id":"lobby"}'), "@S2@") + "@C@"
        + post(tool("join_room", '{"room_id":"lobby","display_name":"z"}'), "@S3@") + "@C@"
        + post(tool("send_message", '{"room_id":"lobby","message":"yo"}'), "@S3@")).encode())
    put("fuzz_http_mcp", "resume-last-event-id", f(2) + (get("@S1@", "1") + "@C@" + get("@S1@", "@L1@")).encode())
    put("fuzz_http_mcp", "wait-pending", f(0) + (
        post(tool("wait_for_message", '{"timeout_s":5}', 9), "@S0@") + post(rpc("ping", id=10), "@S0@") + "@C@"
        + post(tool("leave_chat", '{"room_id":"@R0@"}'), "@S1@")).encode())
    put("fuzz_http_mcp", "wait-timeout", f(0) + post(tool("wait_for_message", '{"timeout_s":1,"after":3}', 9), "@S3@").encode())
    put("fuzz_http_mcp", "delete", f(0) + (get("@S3@") + "@C@" + delete("@S3@") + "@C@" + post(rpc("ping"), "@S3@")).encode())
    put("fuzz_http_mcp", "batch-2025-03-26", f(1) + post(
        "[" + rpc("ping") + ',{"jsonrpc":"2.0","method":"notifications/initialized"},' + tool("wait_for_message", "{}", 3) + "]",
        "@S1@", version="2025-03-26").encode())
    chunked = ("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               "Accept: application/json, text/event-stream\r\nMcp-Session-Id: @S0@\r\n"
               "Transfer-Encoding: chunked\r\n\r\n")
    body = rpc("ping", id=77)
    chunked += f"{10:x}\r\n{body[:10]}\r\n{len(body) - 10:x}\r\n{body[10:]}\r\n0\r\n\r\n"
    put("fuzz_http_mcp", "chunked-body", f(3) + chunked.encode())
    put("fuzz_http_mcp", "expect-continue", f(1) + post(rpc("ping"), "@S0@", extra="Expect: 100-continue\r\n").encode())
    put("fuzz_http_mcp", "escapes-and-nul", f(0) + post(tool("send_message", '{"room_id":"@R0@","message":"a\\u0000b\\ud800\\udc00\\ud800"}'), "@S0@").encode())
    put("fuzz_http_mcp", "head-and-bad", f(0) + (
        "HEAD /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n" + "GET /other HTTP/1.1\r\nHost: evil.example\r\n\r\n"
        + "GET /mcp HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil\r\n\r\n").encode())
    put("fuzz_http_mcp", "close-and-slow", f(0x10 | 0x04) + (get("@S0@") + "@C@"
        + post(tool("enter_queue", "{}"), "@S0@", keep=False)).encode())
    put("fuzz_http_mcp", "shutdown", f(0x20) + (get("@S2@") + "@C@" + post(tool("wait_for_message", "{}"), "@S1@")).encode())
    put("fuzz_http_mcp", "logging-versions", f(0) + (post(rpc("logging/setLevel", '{"level":"debug"}'), "@S0@", version="2025-06-18")
        + post(rpc("initialize", '{"protocolVersion":"2025-03-26"}'), "@S0@")).encode())


def http_mcp_modern():
    f = lambda flags, seed=7: bytes([flags, seed])
    put("fuzz_http_mcp", "modern-discover", f(0) + modern("server/discover").encode())
    put("fuzz_http_mcp", "modern-lists", f(2) + (
        modern("tools/list") + modern("resources/list", id=2) + modern("resources/templates/list", id=3)
        + modern("prompts/list", id=4) + modern("resources/read", '"uri":"mcp-chat://guide",', "mcp-chat://guide", 5)
        + modern("prompts/get", '"name":"chat_with_stranger",', "chat_with_stranger", 6)).encode())
    put("fuzz_http_mcp", "modern-base64-name", f(1) + (
        mtool("get_status", '{"chat_id":"@I0@"}', 1, b64name("get_status"))
        + modern("resources/read", '"uri":"mcp-chat://guide",', b64name("mcp-chat://guide"), 2)
        + mtool("get_status", "{}", 3, b64name("send_message"))
        + mtool("get_status", "{}", 4, "=?base64?!!?=")).encode())
    put("fuzz_http_mcp", "modern-chat", f(0) + (
        mtool("enter_queue", '{"display_name":"m","interests":["x"]}') + "@C@"
        + mtool("join_room", '{"room_id":"modern"}', 2) + "@C@"
        + mtool("send_message", '{"chat_id":"@I0@","message":"hi"}', 3) + "@C@"
        + mtool("wait_for_message", '{"chat_id":"@I1@","after":0,"timeout_s":1}', 4) + "@C@"
        + mtool("leave_chat", '{"chat_id":"@I2@"}', 5)).encode())
    put("fuzz_http_mcp", "modern-wait-progress", f(0x04) + (
        post('{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"wait_for_message",'
             '"arguments":{"chat_id":"@I3@","timeout_s":2},' + META[:-1] + ',"progressToken":"p1"}}}',
             extra="Mcp-Method: tools/call\r\nMcp-Name: wait_for_message\r\n", version=V26) + "@C@"
        + mtool("send_message", '{"chat_id":"@I0@","message":"to a stranger"}')).encode())
    put("fuzz_http_mcp", "modern-refusals", f(0) + (
        post("[" + rpc("tools/list") + "]", version=V26)
        + post(rpc("tools/list", "{}"), extra="Mcp-Method: tools/list\r\n", version=V26)
        + modern("tools/list", headers="")
        + modern("tools/list", headers="Mcp-Method: prompts/list\r\n")
        + modern("tools/list", version=None)
        + modern("tools/list", version="2099-01-01")
        + mtool("get_status", "{}", 2, "send_message")
        + mtool("no_such_tool", "{}", 3)
        + modern("resources/read", '"uri":"mcp-chat://nope",', "mcp-chat://nope", 4)
        + modern("ping", id=5) + modern("initialize", id=6) + modern("subscriptions/listen", id=7)
        + post('{"jsonrpc":"2.0","method":"notifications/cancelled","params":{' + META + '}}', version=V26)
        + post('{"jsonrpc":"2.0","id":8,"result":{}}', version=V26)).encode())
    put("fuzz_http_mcp", "modern-no-session", f(0) + (
        "GET /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n"
        + "DELETE /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n"
        + modern("tools/list", headers="mcp-method:  tools/list \r\n")).encode())
    put("fuzz_http_mcp", "modern-beside-2025", f(3) + (
        post(tool("enter_queue", "{}"), "@S0@") + mtool("get_status", '{"chat_id":"@I0@"}', 2)
        + post(rpc("tools/list", id=3), "@S0@", version=V26)).encode())


INIT_ASKABLE = rpc("initialize", '{"protocolVersion":"2025-11-25","capabilities":{"sampling":{},'
                  '"elicitation":{}},"clientInfo":{"name":"seed","version":"1"}}')


def http_mcp_fixtures():
    """The conformance fixtures (registered in the fuzz world): the catalog and asking."""
    f = lambda flags, seed=7: bytes([flags, seed])
    put("fuzz_http_mcp", "fixtures-catalog", f(1) + (
        post(rpc("resources/templates/list"), "@S1@")
        + post(rpc("resources/read", '{"uri":"test://template/123/data"}', 2), "@S1@")
        + post(rpc("resources/read", '{"uri":"test://static-binary"}', 3), "@S1@")
        + post(rpc("resources/subscribe", '{"uri":"test://watched-resource"}', 4), "@S1@")
        + post(rpc("resources/unsubscribe", '{"uri":"test://watched-resource"}', 5), "@S1@")
        + post(rpc("completion/complete", '{"ref":{"type":"ref/prompt","name":"test_prompt_with_arguments"},'
                   '"argument":{"name":"arg1","value":"pa"}}', 6), "@S1@")
        + post(rpc("prompts/get", '{"name":"test_prompt_with_arguments","arguments":{"arg1":"a","arg2":"b"}}', 7), "@S1@")
        + post(rpc("logging/setLevel", '{"level":"debug"}', 8), "@S1@")
        + post(tool("test_tool_with_logging", "{}", 9), "@S1@")
        + post(rpc("tools/call", '{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":"p"}}', 10), "@S1@")
        + post(tool("test_multiple_content_types", "{}", 11), "@S1@")).encode())
    put("fuzz_http_mcp", "fixtures-poll", f(0) + (
        post(tool("test_reconnection", "{}", 3), "@S1@") + "@C@"
        + get("@S1@", "1-0") + "@C@" + get("@S1@", "1-0") + "@C@" + get("@S1@", "7-x")).encode())
    put("fuzz_http_mcp", "fixtures-ask", f(0) + (
        post(INIT_ASKABLE) + "@C@"
        + post(tool("test_elicitation", '{"message":"who?"}', 5), "@N@") + "@C@"
        + post(reply("@A@", ELICITED), "@N@")
        + "@C@" + post(tool("test_sampling", '{"prompt":"hi"}', 6), "@N@") + "@C@"
        + post('{"jsonrpc":"2.0","id":@A@,"error":{"code":-1,"message":"no"}}', "@N@")).encode())
    http_mcp_replies()


ELICITED = '{"action":"accept","content":{"username":"u"}}'


def reply(id, result):
    return f'{{"jsonrpc":"2.0","id":{id},"result":{result}}}'


def http_mcp_replies():
    """Client responses to a parked request of the server's (mcp_tool_ask, 2025 sessions):
    unknown ids, the same id twice, after the deadline or a cancellation, from another
    session, malformed results and errors."""
    f = lambda flags, seed=7: bytes([flags, seed])
    el = tool("test_elicitation", '{"message":"who?"}', 5)
    put("fuzz_http_mcp", "ask-reply-ids", f(0) + (
        post(INIT_ASKABLE) + "@C@" + post(el, "@N@") + "@C@"
        # Ids it never sent: another number, the right digits as a string, null, a fraction.
        + post(reply("@A@0", ELICITED), "@N@") + post(reply('"@A@"', ELICITED), "@N@")
        + post(reply("null", ELICITED), "@N@") + post(reply("@A@.5", ELICITED), "@N@")
        + post(reply("-@A@", ELICITED), "@N@") + post(reply("1e400", ELICITED), "@N@")
        # From another session: not that session's call.
        + post(reply("@A@", ELICITED), "@S0@")
        # The answer, then the same id again (the call is gone: ignored).
        + post(reply("@A@", ELICITED), "@N@") + post(reply("@A@", ELICITED), "@N@")
        + post('{"jsonrpc":"2.0","id":@A@,"error":{"code":-1,"message":"late"}}', "@N@")).encode())
    put("fuzz_http_mcp", "ask-reply-malformed", f(0) + (
        post(INIT_ASKABLE) + "@C@" + post(el, "@N@") + "@C@"
        + post(reply("@A@", "[]"), "@N@") + "@C@"
        + post(tool("test_sampling", '{"prompt":"hi"}', 6), "@N@") + "@C@"
        + post('{"jsonrpc":"2.0","id":@A@,"error":"no"}', "@N@")
        + post('{"jsonrpc":"2.0","id":@A@,"result":{},"error":{"code":1,"message":"x"}}', "@N@")
        + post('{"jsonrpc":"2.0","id":@A@}', "@N@")
        + post('{"jsonrpc":"2.0","id":@A@,"result":"text"}', "@N@")
        + post('{"jsonrpc":"2.0","id":@A@,"result":{"content":{"type":"text","text":5}}}', "@N@")
        + "@C@" + post(tool("test_elicitation_sep1330_enums", "{}", 7), "@N@") + "@C@"
        + post(reply("@A@", '{"action":"accept","content":{"untitledSingle":["x"],"legacyEnum":7}}'),
               "@N@")).encode())
    put("fuzz_http_mcp", "ask-reply-late", f(0) + (
        # Past the deadline (@T@): the call ended unanswered; the answer finds nothing.
        post(INIT_ASKABLE) + "@C@" + post(el, "@N@") + "@T@" + post(reply("@A@", ELICITED), "@N@")
        # Cancelled by the client: the same.
        + "@C@" + post(tool("test_sampling", '{"prompt":"hi"}', 6), "@N@") + "@C@"
        + post('{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":6}}', "@N@")
        + post(reply("@A@", '{"role":"assistant","content":{"type":"text","text":"x"}}'), "@N@")
        # The session ends while a call waits for its client.
        + "@C@" + post(tool("test_elicitation", '{"message":"again"}', 8), "@N@") + "@C@"
        + delete("@N@") + post(reply("@A@", ELICITED), "@N@")).encode())
    put("fuzz_http_mcp", "ask-reply-batch", f(0) + (
        post(INIT_ASKABLE.replace("2025-11-25", "2025-03-26")) + "@C@" + post(el, "@N@") + "@C@"
        + post(f'[{reply("@A@0", ELICITED)},{reply("@A@", ELICITED)},{reply("@A@", ELICITED)}]',
               "@N@")).encode())


META_ASK = META.replace('"io.modelcontextprotocol/clientCapabilities":{}',
                        '"io.modelcontextprotocol/clientCapabilities":{"elicitation":{},"sampling":{},"roots":{}}')
ANSWER = '"inputResponses":{"user_name":{"action":"accept","content":{"name":"A"}}}'


def mask(method, name, extra, id=1, meta=META_ASK):
    """A 2026-07-28 tools/call or prompts/get of name with every input capability declared."""
    args = '"arguments":{},' if method == "tools/call" else ""
    body = f'{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{{"name":"{name}",{args}{extra}{meta}}}}}'
    return post(body, extra=f"Mcp-Method: {method}\r\nMcp-Name: {name}\r\n", version=V26)


def http_mcp_input():
    """input_required (2026-07-28): first rounds, retries with answers, forged requestState."""
    f = lambda flags, seed=7: bytes([flags, seed])
    el = "test_input_required_result_elicitation"
    forged = ["AQAAAAAAAAAA", "", "not base64!", "A" * 120, "AQ" + "_" * 100,
              "x" * 9000, "AQAAAAAAAAPo" + "A" * 86]
    put("fuzz_http_mcp", "modern-input-required", f(0) + (
        mask("tools/call", el, "", 1)
        + mask("tools/call", el, ANSWER + ",", 2)
        + mask("tools/call", "test_input_required_result_multi_round", "", 3)
        + mask("tools/call", "test_input_required_result_multi_round",
               '"inputResponses":{"step1":{"action":"accept","content":{"name":"A"}}},', 4)
        + mask("tools/call", "test_input_required_result_multiple_inputs", "", 5)
        + mask("tools/call", "test_input_required_result_capabilities", "", 6,
               META.replace('"clientCapabilities":{}', '"clientCapabilities":{"sampling":{}}'))
        + mask("prompts/get", "test_input_required_result_prompt", "", 7)
        + mask("prompts/get", "test_input_required_result_prompt",
               '"inputResponses":{"user_context":{"action":"accept","content":{"context":"c"}}},', 8)
        + mask("tools/call", "test_missing_capability", "", 9, META)).encode())
    put("fuzz_http_mcp", "modern-forged-state", f(0) + "".join(
        mask("tools/call", el, ANSWER + f',"requestState":"{st}",', i + 1)
        for i, st in enumerate(forged)).encode() + (
        mask("tools/call", el, ANSWER + ',"requestState":5,', 20)
        + mask("tools/call", el, '"inputResponses":null,', 21)
        + mask("tools/call", el, '"inputResponses":{"user_name":12345},', 22)
        + mask("tools/call", "test_input_required_result_tampered_state",
               '"inputResponses":{"confirm":{"action":"accept","content":{"ok":true}}},'
               '"requestState":"AQAAAAAAAAAA-TAMPERED",', 23)).encode())


def mretry(name, extra, id, args="{}", method="tools/call"):
    """A 2026-07-28 retry of name with extra params (inputResponses, requestState)."""
    a = f'"arguments":{args},' if method == "tools/call" else ""
    body = f'{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{{"name":"{name}",{a}{extra}{META_ASK}}}}}'
    return post(body, extra=f"Mcp-Method: {method}\r\nMcp-Name: {name}\r\n", version=V26)


def http_mcp_states():
    """input_required retries with the server's own requestState (@Q0@), tampered (@Q1@),
    truncated (@Q2@), expired but genuinely sealed (@Q3@), on another call, and malformed
    inputResponses beside a genuine state."""
    f = lambda flags, seed=7: bytes([flags, seed])
    el = "test_input_required_result_elicitation"
    st = lambda q: ANSWER + f',"requestState":"{q}",'
    put("fuzz_http_mcp", "modern-state-tamper", f(0) + (
        mask("tools/call", el, "", 1) + "@C@"
        + mretry(el, st("@Q1@"), 2) + mretry(el, st("@Q2@"), 3) + mretry(el, st("@Q3@"), 4)
        + mretry(el, st("@Q0@"), 5, '{"x":1}')
        + mretry("test_input_required_result_request_state", st("@Q0@"), 6)
        + mretry("test_input_required_result_prompt", st("@Q0@"), 7, method="prompts/get")
        + mretry(el, '"inputResponses":[],"requestState":"@Q0@",', 8)
        + mretry(el, '"inputResponses":{"user_name":[]},"requestState":"@Q0@",', 9)
        + mretry(el, '"inputResponses":{"user_name":{"action":7}},"requestState":"@Q0@",', 10)
        + mretry(el, '"requestState":"@Q0@@Q0@",', 11)
        + mretry(el, st("@Q0@"), 12)
        # A JSON-RPC response on the stateless path (it has no server requests): refused.
        + post('{"jsonrpc":"2.0","id":@A@,"result":{}}', extra="Mcp-Method: tools/call\r\n",
               version=V26)).encode())
    mr = "test_input_required_result_multi_round"
    put("fuzz_http_mcp", "modern-state-rounds", f(0) + (
        mask("tools/call", mr, "", 1) + "@C@"
        + mretry(mr, '"inputResponses":{"step1":{"action":"accept","content":{"name":"N"}}},'
                 '"requestState":"@Q0@",', 2) + "@C@"
        + mretry(mr, '"inputResponses":{"step2":{"action":"accept","content":{"color":"c"}}},'
                 '"requestState":"@Q3@",', 3)
        + mretry(mr, '"inputResponses":{"step1":{"action":"decline"}},"requestState":"@Q1@",', 4)
        + mretry(mr, '"inputResponses":{"step2":{"action":"accept","content":{"color":"c"}}},'
                 '"requestState":"@Q0@",', 5) + "@C@"
        + mask("tools/call", "test_input_required_result_request_state", "", 6) + "@C@"
        + mretry("test_input_required_result_request_state",
                 '"inputResponses":{"confirm":{"action":"accept","content":{"ok":true}}},'
                 '"requestState":"@Q0@",', 7)
        + mretry("test_input_required_result_request_state",
                 '"inputResponses":{"confirm":{"action":"accept","content":{"ok":true}}},'
                 '"requestState":"@Q2@",', 8)).encode())


def http_mcp_param_headers():
    """SEP-2243 Mcp-Param-* headers for the fixture test_custom_headers."""
    f = lambda flags, seed=7: bytes([flags, seed])
    ch = "test_custom_headers"

    def call(args, params, id):
        body = f'{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{ch}","arguments":{args},{META}}}}}'
        return post(body, extra=f"Mcp-Method: tools/call\r\nMcp-Name: {ch}\r\n" + params, version=V26)
    put("fuzz_http_mcp", "modern-param-headers", f(0) + (
        call('{"region":"us-west1","priority":3,"dry_run":true}',
             "Mcp-Param-Region: us-west1\r\nmcp-param-priority: 3.0\r\nMCP-PARAM-DRY-RUN: true\r\n", 1)
        + call('{"region":"Hello"}', "Mcp-Param-Region: =?base64?SGVsbG8=?=\r\n", 2)
        + call('{"region":"Hello"}', "Mcp-Param-Region: =?base64?SGVsbG8?=\r\n", 3)
        + call('{"region":"Hello"}', "Mcp-Param-Region: =?base64?SGVs!!!bG8=?=\r\n", 4)
        + call('{"region":"r"}', "", 5)
        + call('{"region":null}', "Mcp-Param-Region: r\r\n", 6)
        + call('{"region":"r"}', "Mcp-Param-Region: r\r\nMcp-Param-Region: r\r\n", 7)
        + call('{"region":"r"}', "".join(f"Mcp-Param-P{i}: {i}\r\n" for i in range(17)), 8)
        + call('{"region":"r","priority":1e400}', "Mcp-Param-Region: r\r\nMcp-Param-Priority: 1e400\r\n", 9)
        ).encode())


def sse_resume():
    # byte 0: capacity, byte 1: send queue, then ops until 0xff, then the Last-Event-ID text
    put("fuzz_sse_resume", "simple", bytes([0, 0, 1, 1, 1, 1, 0xff]) + b"2")
    put("fuzz_sse_resume", "no-id", bytes([0, 0, 1, 2, 3, 0xff]))
    put("fuzz_sse_resume", "acked-evicted", bytes([0, 0] + [1] * 40 + [0xf3] + [1] * 40 + [0xff]) + b"5")
    put("fuzz_sse_resume", "huge-id", bytes([3, 0, 1, 1, 0xff]) + b"18446744073709551615")
    put("fuzz_sse_resume", "overflow-id", bytes([3, 0, 1, 1, 0xff]) + b"18446744073709551616")
    put("fuzz_sse_resume", "big-backlog", bytes([8, 0] + [0x7f] * 60 + [0xff]) + b"0")
    put("fuzz_sse_resume", "not-a-number", bytes([1, 1, 1, 1, 0xff]) + b"+1")
    # POST streams (0xfe polls test_reconnection, 0xfd lets its answer come): "N-M" ids
    put("fuzz_sse_resume", "post-live", bytes([0, 0, 1, 0xfe, 1, 0xff]) + b"1-0")
    put("fuzz_sse_resume", "post-kept", bytes([0, 0, 1, 0xfe, 0xfd, 1, 0xff]) + b"1-0")
    put("fuzz_sse_resume", "post-read", bytes([0, 0, 0xfe, 0xfd, 0xff]) + b"1-1")
    put("fuzz_sse_resume", "post-cap", bytes([0, 0] + [0xfe] * 9 + [0xfd, 0xfe, 0xff]) + b"10-0")


def ctl():
    lines = [
        '{"cmd":"status"}', '{"cmd":"sessions"}', '{"cmd":"queues"}', '{"cmd":"rooms"}', '{"cmd":"stats"}',
        '{"cmd":"kick","args":{"target":"@H0@","reason":"spam"}}',
        '{"cmd":"kick","args":{"target":"@R1@"}}',
        '{"cmd":"notify","args":{"target":"@H2@","method":"notifications/message","params":{"level":"info","data":"hi"}}}',
        '{"cmd":"notify","args":{"all":true,"method":"x"}}',
    ]
    for i, l in enumerate(lines):
        put("fuzz_ctl", f"line-{i}", l + "\n")
    put("fuzz_ctl", "several", "\n".join(lines) + "\n")
    put("fuzz_ctl", "bad", '{"cmd":"kick","args":{"target":"","target":"x"}}\n{"cmd":7}\n[1]\n\n{"cmd":"status","args":{"x":1}}\r\n')
    put("fuzz_ctl", "escapes", '{"cmd":"notify","args":{"target":"@H3@","method":"a\\u00e9","params":{"k":"\\ud83d\\ude00"}}}\n')
    # reload twice: the harness's stand-in alternates a file that loads and one that does not
    put("fuzz_ctl", "reload", '{"cmd":"reload"}\n{"cmd":"reload","args":{}}\n{"cmd":"reload","args":{"file":"x"}}\n')


def config():
    put("fuzz_config", "packaged", open(os.path.join(HERE, "..", "..", "..", "packaging", "mcp-chat.conf")).read())
    put("fuzz_config", "limits", "[limits]\nmax_sessions = 1\nmailbox_events = 65536\nrate_per_second = 0.001\nmax_interests=0\n")
    put("fuzz_config", "timeouts", "[timeouts]\nhead_s = 0.1\nkeepalive_s = 86400\nsession_idle_s=1.5\nsse_keepalive_s = 3600\ninterest_fallback_s=0\n")
    put("fuzz_config", "lists", "[server]\nlisten = [::1]:1 127.0.0.1:0,a:1\nallowed_hosts = a b,c\n[status]\nallow = 10.0.0.0/8 ::/0 1.2.3.4/32 fe80::1/64\n")
    put("fuzz_config", "strings", "[control]\nsocket = /run/x.sock\ngroup = g\n[server]\nuser = u\n[log]\nlevel = debug\n[status]\nhealthz = off\nmetrics = yes\n")
    put("fuzz_config", "bad", "[limits]\nmax_head_bytes = 1e3\n")


if __name__ == "__main__":
    http_mcp()
    http_mcp_modern()
    http_mcp_fixtures()
    http_mcp_input()
    http_mcp_states()
    http_mcp_param_headers()
    sse_resume()
    ctl()
    config()
