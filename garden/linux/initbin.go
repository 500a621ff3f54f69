package linux

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
)

// A container's pid 1 must work in any image, even one with no shell or libc,
// so garden writes a tiny static x86-64 executable and bind-mounts it into every
// container read-only. It sets SIGCHLD to SIG_IGN (so the kernel reaps orphans
// re-parented to it) and then pauses forever. Being pid 1 of its namespace, it
// ignores every signal it has no handler for; destroy uses SIGKILL.
var initCode = []byte{
	0x31, 0xc0, // xor eax, eax
	0x50,       // push rax            ; sa_mask
	0x50,       // push rax            ; sa_restorer
	0x50,       // push rax            ; sa_flags
	0x6a, 0x01, // push 1              ; sa_handler = SIG_IGN
	0x48, 0x89, 0xe6, // mov rsi, rsp
	0xbf, 0x11, 0x00, 0x00, 0x00, // mov edi, 17 (SIGCHLD)
	0x31, 0xd2, // xor edx, edx        ; no old action
	0x41, 0xba, 0x08, 0x00, 0x00, 0x00, // mov r10d, 8 (sigset size)
	0xb8, 0x0d, 0x00, 0x00, 0x00, // mov eax, 13 (rt_sigaction)
	0x0f, 0x05, // syscall
	0xb8, 0x22, 0x00, 0x00, 0x00, // loop: mov eax, 34 (pause)
	0x0f, 0x05, // syscall
	0xeb, 0xf7, // jmp loop
}

// initELF wraps initCode in a minimal ELF64 executable: the header, one
// PT_LOAD program header mapping the whole file, then the code.
func initELF() []byte {
	const (
		base    = 0x400000
		ehsize  = 64
		phsize  = 56
		codeOff = ehsize + phsize
	)
	var b bytes.Buffer
	le := binary.LittleEndian
	w := func(v any) { _ = binary.Write(&b, le, v) }
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0}) // 64-bit, little endian, version 1, SysV
	b.Write(make([]byte, 8))
	w(uint16(2))              // e_type: executable
	w(uint16(0x3e))           // e_machine: x86-64
	w(uint32(1))              // e_version
	w(uint64(base + codeOff)) // e_entry
	w(uint64(ehsize))         // e_phoff
	w(uint64(0))              // e_shoff
	w(uint32(0))              // e_flags
	w(uint16(ehsize))         // e_ehsize
	w(uint16(phsize))         // e_phentsize
	w(uint16(1))              // e_phnum
	w(uint16(0))              // e_shentsize
	w(uint16(0))              // e_shnum
	w(uint16(0))              // e_shstrndx
	size := uint64(codeOff + len(initCode))
	w(uint32(1))    // p_type: PT_LOAD
	w(uint32(5))    // p_flags: R+X
	w(uint64(0))    // p_offset
	w(uint64(base)) // p_vaddr
	w(uint64(base)) // p_paddr
	w(size)         // p_filesz
	w(size)         // p_memsz
	w(uint64(0x1000))
	b.Write(initCode)
	return b.Bytes()
}

// writeInit puts the init executable at path (mode 0755, root-owned, readable
// by every container's users).
func writeInit(path string) error {
	if err := os.WriteFile(path+".tmp", initELF(), 0o755); err != nil {
		return fmt.Errorf("writing init: %w", err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("writing init: %w", err)
	}
	return nil
}
