// Package privacy keeps Neksio's privacy promises with one engine over the
// database schema: export, erasure of a contact, deletion of a workspace and
// retention all walk the same table registry and foreign keys (ent's
// migration schema), so a table added later is covered by the same code, and
// a test fails until it is registered (Tables) as covered or excluded.
//
// Beyond the database, the engine reaches the media store (files of erased
// messages, every file of a purged workspace, export archives), the vector
// stores (records whose document is an erased object or the workspace) and
// River's job table (jobs whose arguments name an erased object: finished
// ones are deleted, queued ones cancelled with their arguments scrubbed).
//
// See docs/privacy.md for what each feature promises and the test keeping
// the promise.
package privacy
