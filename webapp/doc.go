// Package webapp is fbs's web front end (gin): the build request form, the
// dashboard of builds, sign-in with OpenID Connect or the implicit local
// user, API tokens, and the JSON API under /api/v1 with the original
// service's POST /rest. Builds go through tasks/client, so they are recorded
// and enqueued exactly as the CLI does it. The build pages themselves
// (/builds/:id...) belong to package monitor, mounted on the same engine.
package webapp
