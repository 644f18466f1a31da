package records

import "encoding/binary"

// signedMessage is what the origin's key signs for a batch.
func signedMessage(count uint32, root [32]byte) []byte {
	msg := make([]byte, 0, len(signContext)+1+4+32)
	msg = append(msg, signContext...)
	msg = append(msg, 0)
	msg = binary.BigEndian.AppendUint32(msg, count)
	return append(msg, root[:]...)
}

const signContext = "accord-records-v1"
