// Pixel values of an image being coded as the networks see them: q = 2v - 255.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>
#include <vector>

#include "models/coding_model.h"  // PlaneView

namespace pixelzip::models::nn {

// An allocator for int16 planes that a decoder fills as it goes: storage comes from calloc
// (large blocks are fresh zero pages, committed only when written), and resize() leaves new
// elements as calloc made them, zero, without writing them. So a corrupt stream that claims a
// huge image costs memory for what it decodes, not for the whole plane.
//
// Why calloc: glibc serves large blocks (128 KiB and up, by default) from fresh anonymous
// mappings, which are zero already, and its calloc then skips the memset; operator new and
// std::allocator's value-initialisation would write (and so commit) every page up front.
//
// REQUIRES: a vector with this allocator grows by resize() only from empty, i.e. with no
// capacity (a fresh vector, as ToQPlane and EmptyQPlane make). Value-initialised elements are
// not written (construct(U*) does nothing), so they are zero only in storage calloc has just
// made: resize() within existing capacity (after reserve(), shrinking, or clear()) would leave
// the old values there. Growing past the capacity reallocates from calloc and copies the old
// elements, which is also correct but copies the whole plane.
template <class T>
struct ZeroPageAllocator {
  using value_type = T;
  ZeroPageAllocator() = default;
  template <class U>
  ZeroPageAllocator(const ZeroPageAllocator<U>&) {}
  T* allocate(size_t n) {
    if (void* p = std::calloc(n, sizeof(T))) return static_cast<T*>(p);
    throw std::bad_alloc();
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <class U>
  void construct(U*) {}  // value-initialisation: calloc already made it zero
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U>
  bool operator==(const ZeroPageAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const ZeroPageAllocator<U>&) const { return false; }
};

// Pixel values of an image being coded, as q = 2v - 255, zero outside the image.
struct QPlane {
  int width = 0, height = 0, channels = 0;
  std::vector<int16_t, ZeroPageAllocator<int16_t>> q;  // [y][x][c]
  int16_t at(int y, int x, int c) const {
    return (y < 0 || x < 0 || x >= width || y >= height) ? int16_t(0) : q[(size_t(y) * width + x) * channels + c];
  }
};

// q = 2v - 255 of every subpixel of `image`.
QPlane ToQPlane(const PlaneView& image);
// A plane of the given size, every value 0 (a decoder fills it as it goes; its pages are
// committed only as it is written).
QPlane EmptyQPlane(int width, int height, int channels);

}  // namespace pixelzip::models::nn
