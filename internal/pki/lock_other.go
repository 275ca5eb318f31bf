//go:build !unix

package pki

import "os"

func lockFileBlocking(*os.File) error { return nil }

func unlockFile(*os.File) {}
