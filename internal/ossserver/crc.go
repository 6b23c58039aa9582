package ossserver

import "hash/crc64"

// OSS's x-oss-hash-crc64ecma is CRC-64/XZ: the ECMA-182 polynomial,
// reflected, initial value and final XOR all ones. Go's hash/crc64 with
// crc64.ECMA computes exactly that, as aliyun-oss-go-sdk does (utils.go
// CrcTable, crc.go). An object made of parts or appends gets the CRC of
// its whole content by combining the parts' CRCs, as zlib's
// crc32_combine does: the SDK checks the combined value (CRC64Combine).

// crcCombine returns the CRC of A||B from crc1 = CRC(A), crc2 = CRC(B) and
// len2 = len(B).
func crcCombine(crc1, crc2 uint64, len2 int64) uint64 {
	if len2 <= 0 {
		return crc1
	}
	var even, odd [64]uint64
	odd[0] = crc64.ECMA // the reflected polynomial: one zero bit
	row := uint64(1)
	for n := 1; n < 64; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(even[:], odd[:]) // two zero bits
	gf2Square(odd[:], even[:]) // four zero bits
	for {
		gf2Square(even[:], odd[:])
		if len2&1 != 0 {
			crc1 = gf2Times(even[:], crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
		gf2Square(odd[:], even[:])
		if len2&1 != 0 {
			crc1 = gf2Times(odd[:], crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

func gf2Times(mat []uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i++ {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
		vec >>= 1
	}
	return sum
}

func gf2Square(square, mat []uint64) {
	for n := range 64 {
		square[n] = gf2Times(mat, mat[n])
	}
}
