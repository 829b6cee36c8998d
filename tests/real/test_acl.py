"""ACLs: digest credentials, the auth scheme, permissions, aversion, bad schemes."""

import struct

from kazoo import exceptions as ke
from kazoo.protocol.states import KazooState
from kazoo.security import (ACL, Id, OPEN_ACL_UNSAFE, make_acl, make_digest_acl,
                            make_digest_acl_credential)

from harness import IntegrationTest, RawClient, jute_buffer, jute_string, wait_for


class AclTest(IntegrationTest):

    def authed(self, user, password):
        c = self.client()
        c.add_auth("digest", "%s:%s" % (user, password))
        return c

    def test_digest_acl_admits_only_the_authenticated_user(self):
        alice = self.authed("alice", "secret")
        path = self.p("private")
        alice.create(path, b"data", acl=[make_digest_acl("alice", "secret", all=True)])
        self.assertEqual(alice.get(path)[0], b"data")

        stranger = self.client()
        with self.assertRaises(ke.NoAuthError):
            stranger.get(path)
        with self.assertRaises(ke.NoAuthError):
            stranger.set(path, b"x")
        with self.assertRaises(ke.NoAuthError):
            stranger.get_children(path)
        with self.assertRaises(ke.NoAuthError):
            stranger.create(path + "/kid", b"")
        with self.assertRaises(ke.NoAuthError):
            stranger.set_acls(path, OPEN_ACL_UNSAFE)
        # exists needs no permission on 3.8
        self.assertEqual(stranger.exists(path).dataLength, 4)

        impostor = self.authed("alice", "wrong")
        with self.assertRaises(ke.NoAuthError):
            impostor.get(path)

        friend = self.authed("alice", "secret")
        self.assertEqual(friend.get(path)[0], b"data")
        friend.set(path, b"by friend")
        self.assertEqual(alice.get(path)[0], b"by friend")

    def test_get_acls_returns_the_digest_id(self):
        alice = self.authed("alice", "secret")
        path = self.p("acl")
        acl = make_digest_acl("alice", "secret", read=True, write=True, admin=True)
        alice.create(path, b"", acl=[acl])
        acls, st = alice.get_acls(path)
        self.assertEqual(len(acls), 1)
        self.assertEqual(acls[0].perms, 1 | 2 | 16)
        self.assertEqual(acls[0].id, Id("digest", make_digest_acl_credential("alice", "secret")))
        self.assertEqual(st.aversion, 0)

    def test_auth_scheme_stands_for_the_callers_digest(self):
        bob = self.authed("bob", "pw")
        path = self.p("auth")
        bob.create(path, b"", acl=[ACL(31, Id("auth", ""))])
        acls, _ = bob.get_acls(path)
        self.assertEqual([(a.perms, a.id) for a in acls],
                         [(31, Id("digest", make_digest_acl_credential("bob", "pw")))])
        with self.assertRaises(ke.NoAuthError):
            self.client().get(path)

    def test_auth_scheme_without_credentials_is_invalid_acl(self):
        with self.assertRaises(ke.InvalidACLError):
            self.admin.create(self.p("noauth"), b"", acl=[ACL(31, Id("auth", ""))])
        self.assertIsNone(self.admin.exists(self.p("noauth")))

    def test_empty_acl_list_is_invalid_acl(self):
        # kazoo replaces acl=[] by its default, so send the request raw
        with RawClient(self.server.host, self.server.port) as raw:
            raw.connect()
            body = jute_string(self.p("empty")) + jute_buffer(b"") + struct.pack(">ii", 0, 0)
            _, err, rest = raw.call(1, body)
            self.assertEqual((err, rest), (-114, b""))
            raw.close_session()
        self.assertIsNone(self.admin.exists(self.p("empty")))

    def test_read_only_acl_refuses_writes_and_children(self):
        path = self.p("ro")
        self.admin.create(path, b"fixed", acl=[make_acl("world", "anyone", read=True)])
        self.assertEqual(self.admin.get(path)[0], b"fixed")
        with self.assertRaises(ke.NoAuthError):
            self.admin.set(path, b"x")
        with self.assertRaises(ke.NoAuthError):
            self.admin.create(path + "/kid", b"")
        with self.assertRaises(ke.NoAuthError):
            self.admin.set_acls(path, OPEN_ACL_UNSAFE)
        # deleting needs DELETE on the parent, which is open
        self.admin.delete(path)
        self.assertIsNone(self.admin.exists(path))

    def test_create_only_acl_allows_children_but_not_reads(self):
        path = self.p("dropbox")
        self.admin.create(path, b"", acl=[make_acl("world", "anyone", create=True)])
        self.admin.create(path + "/letter", b"hi")
        with self.assertRaises(ke.NoAuthError):
            self.admin.get_children(path)
        with self.assertRaises(ke.NoAuthError):
            self.admin.get(path)
        with self.assertRaises(ke.NoAuthError):
            self.admin.delete(path + "/letter")  # needs DELETE on the parent
        self.assertEqual(self.admin.get(path + "/letter")[0], b"hi")

    def test_set_acls_checks_aversion_and_leaves_mzxid(self):
        path = self.p("av")
        self.admin.create(path, b"")
        _, before = self.admin.get(path)
        st = self.admin.set_acls(path, [make_acl("world", "anyone", read=True, write=True,
                                                 admin=True)], version=0)
        self.assertEqual((st.aversion, st.version), (1, 0))
        self.assertEqual((st.mzxid, st.mtime), (before.mzxid, before.mtime))
        with self.assertRaises(ke.BadVersionError):
            self.admin.set_acls(path, OPEN_ACL_UNSAFE, version=0)
        acls, st = self.admin.get_acls(path)
        self.assertEqual([(a.perms, a.id.scheme, a.id.id) for a in acls],
                         [(1 | 2 | 16, "world", "anyone")])
        self.assertEqual(st.aversion, 1)
        with self.assertRaises(ke.NoAuthError):
            self.admin.create(path + "/kid", b"")

    def test_unknown_auth_scheme_fails_the_client(self):
        c = self.client()
        states = []
        c.add_listener(states.append)
        with self.assertRaises(ke.AuthFailedError):
            c.add_auth("nosuchscheme", "whatever")
        # The server answers AUTHFAILED and closes. kazoo goes AUTH_FAILED
        # (LOST for listeners); its read loop may then see the close and try
        # once more before it stops in CLOSED, so either end state is kazoo's,
        # and the timing of the window between them is not the server's.
        wait_for(lambda: KazooState.LOST in states, 5, "the LOST state")
        wait_for(lambda: c.client_state in ("AUTH_FAILED", "CLOSED"), 5,
                 "AUTH_FAILED or CLOSED")
        with self.assertRaises((ke.AuthFailedError, ke.ConnectionClosedError)):
            c.get(self.base)
        # the server is unaffected for everyone else
        self.assertEqual(self.admin.get(self.base)[0], b"")
        self.assertEqual(self.client().get_children(self.base), [])
