package stream

import "kizuna/internal/cot"

// authMessage handles ATAK's <auth><cot username=… password=… uid=…/></auth>
// message, which a client may send first on a stream. As TAK Server does on
// a certificate-authenticated input, Kizuna accepts it and takes nothing
// from it: the principal is the listener's or the client certificate's,
// never what a client claims. It is neither an event nor malformed input.
// An <auth> document that does not parse is malformed like any other.
func (c *Conn) authMessage(doc []byte) {
	a, err := cot.ParseAuth(doc)
	if err != nil {
		c.srv.reject(c, cot.Reason(err), err)
		return
	}
	c.log.Debug("auth message ignored: the principal comes from the listener or certificate",
		"username", a.Username, "uid", a.UID, "password_sent", a.HasPassword)
}
