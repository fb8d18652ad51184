package v1alpha1

import "testing"

func TestKeyRangeRange(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name     string
		r        KeyRange
		key, end string
	}{
		{"prefix", KeyRange{Prefix: s("/app/")}, "/app/", "/app0"},
		{"prefix ending in 0xff", KeyRange{Prefix: s("a\xff")}, "a\xff", "b"},
		{"prefix of only 0xff", KeyRange{Prefix: s("\xff\xff")}, "\xff\xff", "\x00"},
		{"one key", KeyRange{Key: s("/cfg")}, "/cfg", ""},
		{"key and range end", KeyRange{Key: s("/a"), RangeEnd: s("/m")}, "/a", "/m"},
		{"nothing", KeyRange{}, "", ""},
	} {
		k, e := tc.r.Range()
		if k != tc.key || e != tc.end {
			t.Errorf("%s: got [%q, %q), want [%q, %q)", tc.name, k, e, tc.key, tc.end)
		}
	}
}

func TestEtcdUserNames(t *testing.T) {
	u := &EtcdUser{}
	u.Name = "orders"
	if u.RoleName() != "quorum-user-orders" || u.CredentialsSecretName() != "orders-etcd-credentials" || u.AuthenticationMethod() != AuthenticationCertificate {
		t.Fatalf("names: %s %s %s", u.RoleName(), u.CredentialsSecretName(), u.AuthenticationMethod())
	}
	u.Spec.Authentication = AuthenticationPassword
	if u.AuthenticationMethod() != AuthenticationPassword {
		t.Fatal("password not kept")
	}
}
