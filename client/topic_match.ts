/**
 * MQTT topic-filter matching for the SDK: the server's own rules, re-exported from
 * lib/wire/topic.ts (a module that imports nothing and runs in browsers). This is the one file of
 * client/ that imports from outside it: when copying client/ elsewhere, copy that module too and
 * point the import below at it, or bundle client/mod.ts into one file.
 *
 * @module
 */
export { topicMatches } from "../lib/wire/topic.ts";
