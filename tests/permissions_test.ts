import assert from "node:assert/strict";
import {
  canCallCommand,
  canPublish,
  canSubscribe,
  isValidPattern,
  permissionsFromClaims,
} from "../lib/session/permissions.ts";

Deno.test("canCallCommand - absent list allows all, empty list allows none", () => {
  assert.equal(canCallCommand(undefined, "add_user"), true);
  assert.equal(canCallCommand({}, "add_user"), true);
  assert.equal(canCallCommand({ publish: [] }, "add_user"), true);
  assert.equal(canCallCommand({ commands: [] }, "add_user"), false);
});

Deno.test("canCallCommand - matches names case-insensitively and * as all", () => {
  const p = { commands: ["web", "restartProcess"] };
  assert.equal(canCallCommand(p, "WEB"), true);
  assert.equal(canCallCommand(p, "restartprocess"), true);
  assert.equal(canCallCommand(p, "add_user"), false);
  assert.equal(canCallCommand(p, "we"), false);
  assert.equal(canCallCommand(p, "web2"), false);
  assert.equal(canCallCommand({ commands: ["*"] }, "anything"), true);
  assert.equal(canCallCommand({ commands: ["a*"] }, "abc"), false); // * is only "all"
});

Deno.test("canPublish - matches concrete topics against patterns", () => {
  const p = { publish: ["user", "camera/+/status", "vision/#"] };
  assert.equal(canPublish(p, "user"), true);
  assert.equal(canPublish(p, "users"), false);
  assert.equal(canPublish(p, "user/x"), false);
  assert.equal(canPublish(p, "camera/3/status"), true);
  assert.equal(canPublish(p, "camera/3/status/x"), false);
  assert.equal(canPublish(p, "camera/status"), false);
  assert.equal(canPublish(p, "camera//status"), true); // + matches an empty level
  assert.equal(canPublish(p, "vision"), true); // # matches the parent level too
  assert.equal(canPublish(p, "vision/a/b/c"), true);
  assert.equal(canPublish(p, "visions/a"), false);
  assert.equal(canPublish({ publish: [] }, "user"), false);
  assert.equal(canPublish({ publish: ["#"] }, "any/thing"), true);
  assert.equal(canPublish(undefined, "any/thing"), true);
});

Deno.test("canSubscribe - a filter is allowed only when a pattern covers it", () => {
  const p = { subscribe: ["a/#", "x/+"] };
  assert.equal(canSubscribe(p, "a/+/c"), true);
  assert.equal(canSubscribe(p, "a"), true);
  assert.equal(canSubscribe(p, "x/1"), true);
  assert.equal(canSubscribe(p, "x/#"), false);
  assert.equal(canSubscribe(p, "#"), false);
});

Deno.test("canSubscribe - any one pattern of several may cover the filter", () => {
  const p = { subscribe: ["user", "order/+"] };
  assert.equal(canSubscribe(p, "order/1"), true);
  assert.equal(canSubscribe(p, "user"), true);
  assert.equal(canSubscribe(p, "order/#"), false);
  assert.equal(canSubscribe({ subscribe: [] }, "user"), false);
  assert.equal(canSubscribe({}, "#"), true);
});

Deno.test("isValidPattern - wildcards must fill a level and # must be last", () => {
  for (const ok of ["a", "a/b", "+", "#", "a/+/c", "a/#", "+/+/#", "", "a//b"]) {
    assert.equal(isValidPattern(ok), true, ok);
  }
  for (const bad of ["a#", "a/#/b", "#/a", "a+", "+a/b", "a/b+", "##", "++", "a\0b"]) {
    assert.equal(isValidPattern(bad), false, bad);
  }
});

Deno.test("permissionsFromClaims - reads the perms claim", () => {
  assert.equal(permissionsFromClaims({ sub: "x" }), undefined);
  assert.deepEqual(permissionsFromClaims({ perms: {} }), {});
  const perms = { commands: ["web"], publish: [], subscribe: ["user", "vision/#"] };
  const p = permissionsFromClaims({ perms });
  assert.deepEqual(p, perms);
  assert.notEqual(p?.commands, perms.commands); // a copy, not the claim's arrays
});

Deno.test("permissionsFromClaims - throws a clear TypeError on a bad perms claim", () => {
  const bad: [unknown, RegExp][] = [
    [null, /expected an object/],
    ["all", /expected an object/],
    [["web"], /expected an object/],
    [{ commands: "web" }, /"commands" must be an array of strings/],
    [{ publish: [1] }, /"publish" must be an array of strings/],
    [{ subscribe: null }, /"subscribe" must be an array of strings/],
    [{ subscibe: ["a"] }, /unknown key "subscibe"/],
    [{ subscribe: ["a/#/b"] }, /invalid topic pattern "a\/#\/b"/],
    [{ publish: ["a+"] }, /invalid topic pattern "a\+"/],
  ];
  for (const [perms, message] of bad) {
    assert.throws(() => permissionsFromClaims({ perms }), (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, message);
      assert.match(e.message, /^Invalid "perms" claim: /);
      return true;
    });
  }
});
