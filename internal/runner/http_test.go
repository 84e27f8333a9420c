package runner

import "testing"

func TestListenAddrDefaultsToLoopback(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{":9464", "127.0.0.1:9464"},
		{"9464", "127.0.0.1:9464"},
		{"0.0.0.0:9464", "0.0.0.0:9464"},
		{"[::]:9464", "[::]:9464"},
		{"10.0.0.5:9464", "10.0.0.5:9464"},
		{"localhost:9464", "localhost:9464"},
		{"nonsense", ""},
	} {
		got, err := ListenAddr(tc.in)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("ListenAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
