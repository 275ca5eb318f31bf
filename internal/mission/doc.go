// Package mission hosts TAK missions (TAK Server's "Data Sync"
// workspaces) under Kizuna's labels, in TAK Server's Mission API shapes
// under /Marti/api/missions.
//
// A mission is a named workspace holding CoT objects (by uid), files (by
// SHA-256 from the labelled file store), keywords and log entries;
// clients subscribe to it and receive every change live as a t-x-m-c
// event directed to their uid.
//
// Labels apply twice. The mission's own label says who may know that it
// exists: any request about a mission the caller may not see answers 404,
// exactly as for one that does not exist. Each item (object, file, log
// entry) and each change keeps its own label: the object's or file's as
// the adder saw it, or the log entry's. A caller sees an item, and the
// changes about it, only if label.Releasable lets both the mission and
// the item through. Change records carry no sequence numbers and every
// list is built per view, so a withheld item shows neither by uid, nor by
// a gap, nor by a count.
//
// Roles follow TAK Server: MISSION_OWNER (the creator; may delete the
// mission and set roles), MISSION_SUBSCRIBER (may add and remove
// contents, keywords and log entries) and MISSION_READONLY_SUBSCRIBER. A
// role belongs to the authenticated principal (certificate name and
// nation), never to a client-supplied uid; the clientUid of a
// subscription only says where change notifications go.
//
// The service keeps its state in memory and writes every change through
// to its own SQLite database before answering; in cluster mode, to the
// cluster's PostgreSQL, shared by every instance of the node (shared.go).
//
//	GET    /Marti/api/missions                            missions the caller may see
//	PUT    /Marti/api/missions/{name}                     create (also POST); access=, releasableTo=, caveat=, description=, tool=, creatorUid=
//	GET    /Marti/api/missions/{name}                     one mission (?changes=true, ?logs=true, secago/start/end)
//	DELETE /Marti/api/missions/{name}                     delete (owner only)
//	PUT    /Marti/api/missions/{name}/contents            {"uids":[…],"hashes":[…]}
//	DELETE /Marti/api/missions/{name}/contents?uid=&hash=
//	GET    /Marti/api/missions/{name}/changes             change log (secago, start, end)
//	GET    /Marti/api/missions/{name}/cot                 latest CoT of the mission's uids (XML <events>)
//	PUT    /Marti/api/missions/{name}/subscription?uid=   subscribe; DELETE unsubscribes; GET shows one
//	GET    /Marti/api/missions/{name}/subscriptions       subscriber uids
//	GET    /Marti/api/missions/{name}/subscriptions/roles subscribers with roles
//	GET    /Marti/api/missions/{name}/role                the caller's role
//	PUT    /Marti/api/missions/{name}/role?clientUid=&role=  set a subscriber's role (owner only)
//	PUT    /Marti/api/missions/{name}/keywords            ["kw",…]; DELETE …/keywords/{kw}
//	POST   /Marti/api/missions/logs/entries               a log entry {"missionNames":[…],"content":…,"dtg":…}
//	GET    /Marti/api/missions/{name}/log                 the mission's log entries
//	DELETE /Marti/api/missions/logs/entries/{id}          delete one's own entry
//	PUT    /Marti/api/missions/{name}/invite/{type}/{invitee}  invite a clientUid (t-x-m-i)
//	GET    /Marti/api/missions/invitations?clientUid=     missions a uid is invited to
//	…      /Marti/api/missions/guid/{guid}/…              every route above, by guid; DELETE /Marti/api/missions?guid=
//	PUT    /Marti/api/missions/{name}/password?password=  set (owner); DELETE removes; subscribe then needs ?password=
//	GET    /Marti/api/missions/{name}/layers              layers (PUT creates, DELETE ?uid= deletes, PUT …/layers/{uid}/name renames)
//	GET    /Marti/api/missions/{name}/archive             the mission as a data package zip
//	PUT    /Marti/api/missions/{name}/contents/missionpackage  import a data package's files as contents
//
// Missions are keyed by guid: a name taken only by missions the caller
// cannot see makes a new mission, so a create never reveals a hidden one.
// Roles are kept per (mission, principal) and outlive subscriptions. A
// client uid may be subscribed only by the principal whose live streams
// hold it, and notices go to a uid only while that holds. Missions
// federate change by change and, when a link comes up, whole (FedType).
package mission
